//! checks: workspace-level tests live in `tests/`; the infrastructure issue fills them in.
