"""The 112 call path: FastAGI IVR, caller location, the calls API."""
