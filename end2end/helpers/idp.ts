// A small test Identity Provider for the SAML specs.
//
// Responses are built as compact XML (no whitespace between elements) and signed by Debian's
// `xmlsec1` (an independent implementation, so the SP's verifier is not checked against itself).
// Nothing touches the XML after xmlsec1 has signed it: the bytes it wrote are what gets base64'd.
import type { Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";

const END2END = path.resolve(__dirname, "..");
const FIXTURES = path.join(END2END, "fixtures", "saml");
const XMLSEC1 = "/usr/bin/xmlsec1";

export const IDP_ENTITY_ID = "https://idp.test.example/metadata";
export const IDP_KEY = path.join(FIXTURES, "idp.key");
export const IDP_CERT = path.join(FIXTURES, "idp.crt");
export const OTHER_KEY = path.join(FIXTURES, "other.key");
export const OTHER_CERT = path.join(FIXTURES, "other.crt");
export const IDP_METADATA = path.join(FIXTURES, "idp-metadata.xml");

const NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol";
const NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion";
const NS_DS = "http://www.w3.org/2000/09/xmldsig#";

export interface ResponseOptions {
  acsUrl: string; // goes into Response@Destination and SubjectConfirmationData@Recipient
  audience: string; // AudienceRestriction/Audience
  issuer?: string; // default "https://idp.test.example/metadata"
  nameId: string;
  attributes?: Record<string, string | string[]>;
  inResponseTo?: string; // sets Response@InResponseTo and SubjectConfirmationData@InResponseTo
  keyFile?: string; // default fixtures/saml/idp.key
  certFile?: string; // default fixtures/saml/idp.crt
  sign?: "response" | "assertion" | "both"; // default 'both'
}

function esc(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;")
    .replace(/\r/g, "&#13;")
    .replace(/\n/g, "&#10;")
    .replace(/\t/g, "&#9;");
}

function unesc(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&#x([0-9a-fA-F]+);/g, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&amp;/g, "&");
}

/** ISO 8601 UTC without milliseconds, e.g. 2026-01-02T03:04:05Z. */
function instant(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function randomHex(): string {
  return crypto.randomBytes(16).toString("hex");
}

/** An enveloped-signature template referencing `#id`; xmlsec1 fills the values and the certificate. */
function signatureTemplate(id: string): string {
  return (
    `<ds:Signature xmlns:ds="${NS_DS}">` +
    `<ds:SignedInfo>` +
    `<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
    `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>` +
    `<ds:Reference URI="#${esc(id)}">` +
    `<ds:Transforms>` +
    `<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>` +
    `<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
    `</ds:Transforms>` +
    `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>` +
    `<ds:DigestValue></ds:DigestValue>` +
    `</ds:Reference>` +
    `</ds:SignedInfo>` +
    `<ds:SignatureValue></ds:SignatureValue>` +
    `<ds:KeyInfo><ds:X509Data><ds:X509Certificate></ds:X509Certificate></ds:X509Data></ds:KeyInfo>` +
    `</ds:Signature>`
  );
}

function resolveFile(p: string): string {
  return path.resolve(END2END, p);
}

/**
 * Signs the (single) ds:Signature template in `xml` with xmlsec1 and returns the signed document
 * exactly as xmlsec1 wrote it. xmlsec1 --sign processes only the first Signature template it finds,
 * so documents with two signatures are signed in two passes (see signedResponse).
 */
function xmlsecSign(xml: string, keyFile: string, certFile: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "idp-sign-"));
  try {
    const input = path.join(dir, "in.xml");
    const output = path.join(dir, "out.xml");
    fs.writeFileSync(input, xml);
    execFileSync(
      XMLSEC1,
      [
        "--sign",
        "--privkey-pem",
        `${keyFile},${certFile}`,
        "--id-attr:ID",
        `${NS_SAML}:Assertion`,
        "--id-attr:ID",
        `${NS_SAMLP}:Response`,
        "--output",
        output,
        input,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    return fs.readFileSync(output, "utf8");
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`xmlsec1 --sign failed: ${err.stderr?.toString() || err.message}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Inserts `insert` right after the first `</saml:Issuer>` at or after `from`. */
function insertAfterIssuer(xml: string, from: number, insert: string): string {
  const close = "</saml:Issuer>";
  const at = xml.indexOf(close, from);
  if (at < 0) throw new Error("no saml:Issuer to put the signature after");
  const end = at + close.length;
  return xml.slice(0, end) + insert + xml.slice(end);
}

/**
 * A SAML 2.0 Response for `o`, signed by xmlsec1, as base64 ready for a SAMLResponse form field.
 * sign: 'assertion' signs only the Assertion, 'response' only the Response, 'both' (default)
 * signs the Assertion first and then the Response, so the Response signature covers the signed
 * Assertion.
 */
export function signedResponse(o: ResponseOptions): string {
  const now = new Date();
  const issueInstant = instant(now);
  const notBefore = instant(new Date(now.getTime() - 60_000));
  const notOnOrAfter = instant(new Date(now.getTime() + 5 * 60_000));
  const responseId = "_r" + randomHex();
  const assertionId = "_a" + randomHex();
  const issuer = o.issuer ?? IDP_ENTITY_ID;
  const keyFile = resolveFile(o.keyFile ?? IDP_KEY);
  const certFile = resolveFile(o.certFile ?? IDP_CERT);
  const sign = o.sign ?? "both";
  const signAssertion = sign === "assertion" || sign === "both";
  const signResponse = sign === "response" || sign === "both";
  const inResponseTo = o.inResponseTo !== undefined ? ` InResponseTo="${esc(o.inResponseTo)}"` : "";

  const attributes = Object.entries(o.attributes ?? {})
    .map(([name, value]) => {
      const values = Array.isArray(value) ? value : [value];
      return (
        `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified">` +
        values.map((v) => `<saml:AttributeValue>${esc(v)}</saml:AttributeValue>`).join("") +
        `</saml:Attribute>`
      );
    })
    .join("");

  const assertion =
    `<saml:Assertion ID="${assertionId}" Version="2.0" IssueInstant="${issueInstant}">` +
    `<saml:Issuer>${esc(issuer)}</saml:Issuer>` +
    (signAssertion ? signatureTemplate(assertionId) : "") +
    `<saml:Subject>` +
    `<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(o.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
    `<saml:SubjectConfirmationData NotOnOrAfter="${notOnOrAfter}" Recipient="${esc(o.acsUrl)}"${inResponseTo}/>` +
    `</saml:SubjectConfirmation>` +
    `</saml:Subject>` +
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}">` +
    `<saml:AudienceRestriction><saml:Audience>${esc(o.audience)}</saml:Audience></saml:AudienceRestriction>` +
    `</saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${issueInstant}" SessionIndex="_s${randomHex()}">` +
    `<saml:AuthnContext>` +
    `<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>` +
    `</saml:AuthnContext>` +
    `</saml:AuthnStatement>` +
    (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : "") +
    `</saml:Assertion>`;

  const responseOpen =
    `<samlp:Response xmlns:samlp="${NS_SAMLP}" xmlns:saml="${NS_SAML}" ID="${responseId}" Version="2.0" ` +
    `IssueInstant="${issueInstant}" Destination="${esc(o.acsUrl)}"${inResponseTo}>` +
    `<saml:Issuer>${esc(issuer)}</saml:Issuer>`;
  const responseRest =
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    assertion +
    `</samlp:Response>`;

  let xml: string;
  if (sign === "response") {
    xml = xmlsecSign(responseOpen + signatureTemplate(responseId) + responseRest, keyFile, certFile);
  } else if (sign === "assertion") {
    xml = xmlsecSign(responseOpen + responseRest, keyFile, certFile);
  } else {
    // Pass 1: only the Assertion carries a template. Pass 2: add the Response template after the
    // Response's Issuer (the first one in the document) and sign again; the enveloped Response
    // signature then covers the Assertion together with its signature, byte for byte.
    const assertionSigned = xmlsecSign(responseOpen + responseRest, keyFile, certFile);
    const responseStart = assertionSigned.indexOf("<samlp:Response");
    xml = xmlsecSign(insertAfterIssuer(assertionSigned, responseStart, signatureTemplate(responseId)), keyFile, certFile);
  }
  return Buffer.from(xml, "utf8").toString("base64");
}

/** Reads the SP's HTTP-Redirect AuthnRequest (SAMLRequest = base64(raw deflate(xml))). */
export function parseAuthnRequest(redirectUrl: string): { id: string; acsUrl: string; issuer: string; relayState: string | null } {
  const url = new URL(redirectUrl);
  const encoded = url.searchParams.get("SAMLRequest");
  if (!encoded) throw new Error(`no SAMLRequest in ${redirectUrl}`);
  // A '+' the SP forgot to percent-encode comes back as ' '; base64 never contains spaces.
  const xml = zlib.inflateRawSync(Buffer.from(encoded.replace(/ /g, "+"), "base64")).toString("utf8");
  const id = xml.match(/\sID="([^"]*)"/)?.[1];
  const acsUrl = xml.match(/\sAssertionConsumerServiceURL="([^"]*)"/)?.[1];
  const issuer = xml.match(/<(?:[\w.-]+:)?Issuer\b[^>]*>([^<]*)<\/(?:[\w.-]+:)?Issuer>/)?.[1];
  if (id === undefined || acsUrl === undefined || issuer === undefined) {
    throw new Error(`AuthnRequest without ID, AssertionConsumerServiceURL or Issuer:\n${xml}`);
  }
  return { id: unesc(id), acsUrl: unesc(acsUrl), issuer: unesc(issuer).trim(), relayState: url.searchParams.get("RelayState") };
}

/**
 * Makes the browser POST SAMLResponse (and RelayState) to `acsUrl` the way an IdP page does: the
 * page goes to about:blank (an opaque origin, so the POST is cross-site like a real IdP's), gets a
 * form, and the form is submitted; resolves when the resulting navigation (after any redirects)
 * has loaded.
 */
export async function postToAcs(page: Page, acsUrl: string, samlResponse: string, relayState?: string): Promise<void> {
  const fields =
    `<input type="hidden" name="SAMLResponse" value="${esc(samlResponse)}">` +
    (relayState !== undefined ? `<input type="hidden" name="RelayState" value="${esc(relayState)}">` : "");
  await page.goto("about:blank");
  await page.setContent(
    `<!DOCTYPE html><html><body><form method="post" action="${esc(acsUrl)}">${fields}` +
      `<button type="submit">Continue</button></form></body></html>`,
  );
  await Promise.all([page.waitForNavigation(), page.evaluate(() => (document.forms[0] as HTMLFormElement).submit())]);
}
