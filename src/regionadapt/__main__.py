from regionadapt.cli import main

main()
