"""Function -> Function passes: jvp, vjp, simplify, dce.  Each module states its contract."""
