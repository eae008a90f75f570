import * as http from "node:http";
import { AddressInfo } from "node:net";
import { parseAuthnRequest, signedResponse, ResponseOptions } from "./idp";

/**
 * A small IdP on 127.0.0.1 for the browser tests: `GET /idp/sso` takes the SP's HTTP-Redirect
 * AuthnRequest and answers with an auto-submitting form that POSTs a response (signed by xmlsec1)
 * to the request's ACS, like a real IdP's page; `GET /idp/launch?acs=…&audience=…` does the same
 * without a request (IdP-initiated sign-in). The user it asserts is set by the test.
 */
export interface TestIdp {
  ssoUrl: string;
  launchUrl: (acsUrl: string, audience: string, relayState?: string) => string;
  /** Who signs in next, and how the response is made. */
  as: (o: Partial<ResponseOptions> & { nameId: string }) => void;
  stop: () => Promise<void>;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function autoPost(acsUrl: string, samlResponse: string, relayState: string | null): string {
  return (
    `<!DOCTYPE html><html><body onload="document.forms[0].submit()">` +
    `<form method="post" action="${esc(acsUrl)}">` +
    `<input type="hidden" name="SAMLResponse" value="${esc(samlResponse)}">` +
    (relayState !== null ? `<input type="hidden" name="RelayState" value="${esc(relayState)}">` : "") +
    `<noscript><button type="submit">Continue</button></noscript></form></body></html>`
  );
}

export async function startTestIdp(): Promise<TestIdp> {
  let user: Partial<ResponseOptions> & { nameId: string } = { nameId: "nobody@example.test" };
  const server = http.createServer((req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (url.pathname === "/idp/sso") {
        const full = `http://127.0.0.1${req.url}`;
        const authn = parseAuthnRequest(full);
        // The audience is the SP's entity ID, which it sends as the request's Issuer.
        const body = signedResponse({ ...user, acsUrl: authn.acsUrl, audience: authn.issuer, inResponseTo: authn.id });
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
        res.end(autoPost(authn.acsUrl, body, authn.relayState));
      } else if (url.pathname === "/idp/launch") {
        const acs = url.searchParams.get("acs") ?? "";
        const audience = url.searchParams.get("audience") ?? "";
        const body = signedResponse({ ...user, acsUrl: acs, audience });
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
        res.end(autoPost(acs, body, url.searchParams.get("relay")));
      } else {
        res.writeHead(404).end();
      }
    } catch (e) {
      res.writeHead(500, { "Content-Type": "text/plain" }).end(String(e));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  return {
    ssoUrl: `${base}/idp/sso`,
    launchUrl: (acs, audience, relay) =>
      `${base}/idp/launch?acs=${encodeURIComponent(acs)}&audience=${encodeURIComponent(audience)}` +
      (relay ? `&relay=${encodeURIComponent(relay)}` : ""),
    as: (o) => {
      user = o;
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
