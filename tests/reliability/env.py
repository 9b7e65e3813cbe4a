"""The server and the tokens of tests/reliability/bad_inputs.py: one `rtev serve --auth jwt`
with an API key, and JWTs good and bad."""
import json
import time

from cli_e2e_support import b64url as b64

class Env:
    def __init__(self, suite, secret, api_key, jwt_hs256):
        # A burst of 1000 keeps the canary's and the HTTP cases' publishing (one client address)
        # clear of the per-address limit; the abuse case sends far more than that.
        self.server = suite.server("--auth", "jwt", "--jwt-secret", secret, "--api-key", api_key,
                                   "--rate-limit", "100/s", "--rate-burst", "1000")
        self.hostport, self.api_key = self.server.hostport, api_key
        now = int(time.time())
        self.tokens = {
            "probe": jwt_hs256(secret, {"sub": "probe", "roles": ["member"]}),
            "claimed": jwt_hs256(secret, {"sub": "claimed", "rooms": ["lobby"]}),
            "canary": jwt_hs256(secret, {"sub": "canary", "roles": ["member"]}),
            "alg_none": b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "."
                        + b64(json.dumps({"sub": "probe", "roles": ["admin"]}).encode()) + ".",
            "bad_sig": jwt_hs256(secret + "-not", {"sub": "probe", "roles": ["admin"]}),
            "expired": jwt_hs256(secret, {"sub": "probe", "exp": now - 60}),
            "nbf_future": jwt_hs256(secret, {"sub": "probe", "nbf": now + 3600}),
            "no_sub": jwt_hs256(secret, {"roles": ["member"]}),
            "roles_number": jwt_hs256(secret, {"sub": "probe", "roles": 5}),
        }


def check_clean_exit(suite, server):
    """SIGTERM, then exit status 0: a crash, or a sanitizer report in an ASan/UBSan build
    (-fno-sanitize-recover, leaks checked at exit), makes it non-zero."""
    rc = server.stop()
    suite.check("rtev serve shuts down cleanly (exit 0, no sanitizer report)", rc == 0,
                f"exit {rc}: {''.join(server.err_lines[-30:])}")
