"""Built-in collectors: each turns one kind of source into samples, recording source, licence
and URL per sample, and yields :class:`regionadapt.data.Skip` for items it cannot read."""

from regionadapt.hookspecs import hookimpl


@hookimpl
def register_collectors(register):
    from regionadapt_plugins.collectors.dual_caption import DualCaptionCollector
    from regionadapt_plugins.collectors.files import FilesCollector
    from regionadapt_plugins.collectors.hf import HFCollector
    from regionadapt_plugins.collectors.translate import TranslateCollector
    from regionadapt_plugins.collectors.url_list import UrlListCollector
    from regionadapt_plugins.collectors.webdataset import WebDatasetCollector

    for cls in (
        FilesCollector,
        HFCollector,
        WebDatasetCollector,
        UrlListCollector,
        TranslateCollector,
        DualCaptionCollector,
    ):
        register(cls)
