"""The local emulator harness: moto in-process, extended where moto lacks what the product needs,
a custom-resource response sink, and the functions run through cargo-lambda."""
