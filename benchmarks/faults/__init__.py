"""The fault suite's scenarios (run by ``benchmarks/fault_injection.py``)."""
