"""onyx's graph optimizer from Python: the passes `onyx optimize` runs, on a
model file or its bytes, with the statistics of what each pass did."""
import os

from . import _onyx


def available_passes():
    """The built-in passes, in run order (names for passes= / disabled=)."""
    return _onyx.optimizer_passes().split(",")


def optimize_model(model, level=3, passes=None, disabled=None, output_path=None, providers=None,
                   return_stats=False):
    """Optimizes `model` (a path, bytes, or an onnx.ModelProto) as a session
    would at `level` (0..3; ORT's 99 means 3), running only `passes` or all
    but `disabled` (lists of pass names). providers: the providers the model
    will run on (ORT's or onyx's names; default: all usable here), since the
    cpu fusions leave alone nodes a provider listed before cpu takes.

    Returns the optimized model's bytes, or output_path after writing it
    there; with return_stats, a pair (that, {level, nodes_before,
    nodes_after, passes: [{name, runs, changes, fused, folded, ...}]})."""
    from .session import _onyx_name   # one provider-name table, in session.py
    if hasattr(model, "SerializeToString"):
        model = model.SerializeToString()
    elif isinstance(model, os.PathLike):
        model = os.fspath(model)
    prov = ",".join(_onyx_name(p) for p in providers) if providers else None
    data, stats = _onyx.optimize(model, min(int(level), 3), ",".join(passes) if passes is not None else None,
                                 ",".join(disabled) if disabled else None, prov)
    result = data
    if output_path is not None:
        with open(output_path, "wb") as f:
            f.write(data)
        result = os.fspath(output_path)
    return (result, stats) if return_stats else result
