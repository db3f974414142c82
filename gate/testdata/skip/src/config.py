import os

# onus:skip secret-found:101
API_KEY = "AKIAIOSFODNN7EXAMPLE"
TOKEN = "ghp_000000000000000000000000000000000000"  # onus:skip secret-found
