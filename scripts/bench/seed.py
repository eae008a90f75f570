"""Seeds N users through SCIM POST /Users on one server (ours or the reference) and writes
"id userName" lines for the wrk scripts. Usage: seed.py BASE_URL TOKEN N OUT_FILE TAG"""

import sys

import httpx


def main() -> None:
    base, token, n, out, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/scim+json",
        "Accept": "application/scim+json",
    }
    lines = []
    with httpx.Client(headers=headers, timeout=30.0) as client:
        for i in range(n):
            user_name = f"s-{tag}-{i}@bench.example"
            body = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "name": {"givenName": "Bench", "familyName": f"Seeded {i}"},
                "emails": [{"value": user_name, "type": "work", "primary": True}],
                "active": True,
            }
            r = client.post(f"{base}/Users", json=body)
            if r.status_code != 201:
                sys.exit(f"seeding {base}: POST /Users answered {r.status_code}: {r.text[:300]}")
            lines.append(f"{r.json()['id']} {user_name}\n")
    with open(out, "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
