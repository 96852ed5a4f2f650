"""`python -m kosmos_eval ...` is the same as `kosmos-eval ...` (and works under torchrun / accelerate)."""

from kosmos_eval.cli import main

if __name__ == "__main__":
    main()
