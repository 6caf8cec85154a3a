"""The emulator's CloudFormation, beyond moto 5.2.5: see harness/ext_cloudformation.py."""
