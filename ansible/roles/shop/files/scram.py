"""SCRAM-SHA-256 verifiers (PostgreSQL's stored form) of the passwords given as a JSON object on
stdin; prints the same keys with verifiers. ALTER ROLE ... PASSWORD accepts a verifier as is, so
the clear-text password never reaches the server or its log (RDS logs DDL). ASCII passwords
need no SASLprep."""
import base64
import hashlib
import hmac
import json
import os
import sys

ITERATIONS = 4096


def verifier(password):
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw):
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${ITERATIONS}:{b64(salt)}${b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}"


print(json.dumps({k: verifier(v) for k, v in json.load(sys.stdin).items()}))
