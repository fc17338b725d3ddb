"""actmap: see and edit the intermediate activation maps of trained image generators.

The same C++ core as actmap-cli and the editor, so a session renders to the same pixels here:

    >>> import actmap
    >>> s = actmap.Session.load("session.json")
    >>> r = s.render()              # r.output: float32 [1, C, H, W]; r.image: uint8 [H, W, C]
    >>> s.activation("main.8")      # a tap's activation after its edits, as numpy
    >>> s.add_edit({"tap": "main.8", "channels": "all", "op": "multiply", "params": {"factor": 2}})
    >>> r.save("out.png")           # byte for byte what actmap-cli render writes

Models: Model.load(name | card.json | checkpoint.pkl); Renderer for a model's activation cache;
ops() for the edit operations and their parameters; sweep, sensitivity, cluster, dissect and
channel_stats for analyses; Animation and FrameWriter for animations. actmap.distributed runs
batch work on Dask's distributed scheduler. Errors are actmap.Error with the message actmap-cli
prints. docs/python.md has the whole picture.
"""
from ._actmap import (  # noqa: F401
    ActmapWarning,
    Animation,
    Cancelled,
    Error,
    FrameWriter,
    Model,
    RenderResult,
    Renderer,
    Session,
    Tap,
    channel_stats,
    check_edits,
    clear_model_cache,
    cluster,
    devices,
    dissect,
    dissect_keep,
    dissect_scores,
    dissect_sums,
    dissect_thresholds,
    dissect_top_values,
    encode_png,
    frame_file_name,
    merge_channel_stats,
    op,
    ops,
    read_image,
    region,
    sensitivity,
    set_cuda_fp16,
    set_threads,
    sha256_file,
    sweep,
    threads,
    tile_images,
    write_png,
)

__version__ = "0.1.0"


class Picture:
    """A uint8 image [H, W] or [H, W, C] that shows itself inline in Jupyter (see show())."""

    def __init__(self, image):
        self.image = image

    def _repr_png_(self):
        return encode_png(self.image)

    def save(self, path):
        """Writes the image as PNG (atomically)."""
        write_png(path, self.image)

    def __repr__(self):
        return f"<actmap.Picture {'x'.join(str(d) for d in self.image.shape)}>"


def show(image):
    """Wraps a uint8 image (e.g. sweep()["strip"]) so that Jupyter draws it."""
    return Picture(image)
