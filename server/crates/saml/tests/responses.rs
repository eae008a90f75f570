//! Response validation against responses signed by `xmlsec1`: the valid shapes, then every
//! rejection, each its own test. Removing a check from `portal_saml::response` fails one of these,
//! except where two checks overlap (the reduction to signed content behind the signature-shape
//! check; the signed-ID and whole-Subject checks behind the assertion count), which are noted.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::*;
use portal_saml::response::{decode, validate, Expectations, Failure, Verified};

fn expect_with<'a>(certs: &'a [Vec<u8>], issuer: Option<&'a str>) -> Expectations<'a> {
    Expectations {
        entity_id: ENTITY,
        acs_url: ACS,
        idp_issuer: issuer,
        certificates: certs,
        now_ms: NOW_MS,
        skew_ms: 180_000,
    }
}

fn check_xml(xml: &str) -> Result<Verified, Failure> {
    let certs = vec![cert_der("idp")];
    validate(xml, &expect_with(&certs, Some(IDP)))
}

fn check(o: &Opts) -> Result<Verified, Failure> {
    check_xml(&signed_xml(o))
}

fn code(r: Result<Verified, Failure>) -> &'static str {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(f) => f.code(),
    }
}

// ---- accepted -------------------------------------------------------------------------------

#[test]
fn assertion_signed_response_is_accepted() {
    let v = check(&Opts::default()).unwrap();
    assert_eq!(v.name_id, "ann@example.com");
    assert_eq!(v.assertion_id, "_assert1");
    assert_eq!(v.issuer, IDP);
    assert_eq!(v.certificate_index, 0);
    assert_eq!(v.in_response_to, None);
    assert_eq!(v.replay_until_ms, NOW_MS + 300_000 + 180_000);
    assert!(v
        .attributes
        .contains(&("firstname".to_string(), vec!["Ann".to_string()])));
}

#[test]
fn response_signed_response_is_accepted() {
    let v = check(&Opts {
        sign: Sign::Response,
        ..Opts::default()
    })
    .unwrap();
    assert_eq!(v.name_id, "ann@example.com");
}

#[test]
fn both_signed_response_is_accepted() {
    let v = check(&Opts {
        sign: Sign::Both,
        in_response_to: Some("_req1".into()),
        ..Opts::default()
    })
    .unwrap();
    assert_eq!(v.in_response_to.as_deref(), Some("_req1"));
}

#[test]
fn base64_form_value_decodes() {
    let xml = signed_xml(&Opts::default());
    let decoded = decode(&b64(&xml)).unwrap();
    assert!(check_xml(&decoded).is_ok());
}

#[test]
fn next_certificate_verifies_during_rollover() {
    let certs = vec![cert_der("other"), cert_der("idp")];
    let v = validate(
        &signed_xml(&Opts::default()),
        &expect_with(&certs, Some(IDP)),
    )
    .unwrap();
    assert_eq!(
        v.certificate_index, 1,
        "the second (next) certificate verified it"
    );
}

#[test]
fn issuer_is_not_checked_when_not_configured() {
    let certs = vec![cert_der("idp")];
    let xml = signed_xml(&Opts {
        issuer: "https://some-other-idp".into(),
        ..Opts::default()
    });
    assert!(validate(&xml, &expect_with(&certs, None)).is_ok());
}

#[test]
fn clock_skew_of_under_180_seconds_is_tolerated() {
    let o = Opts {
        not_on_or_after_ms: NOW_MS - 170_000,
        bearer_not_on_or_after_ms: Some(NOW_MS - 170_000),
        ..Opts::default()
    };
    assert!(check(&o).is_ok());
}

#[test]
fn comment_in_name_id_is_refused_never_truncated() {
    // The classic attack: a valid assertion for a longer address, with a comment inserted after
    // signing (exclusive canonicalisation ignores comments, so the digest still matches). xmlsec's
    // reduction through samael refuses comments inside signed content, so it never reaches the
    // NameID reader; the processing-instruction test below covers the reader itself.
    let xml = signed_xml(&Opts {
        name_id_xml: "ann@example.com.evil.example".into(),
        ..Opts::default()
    })
    .replace(
        "ann@example.com.evil.example",
        "ann@example.com<!---->.evil.example",
    );
    assert_eq!(code(check_xml(&xml)), "bad_signature");
}

#[test]
fn processing_instruction_in_name_id_cannot_truncate_it() {
    let v = check(&Opts {
        name_id_xml: "ann@example.com<?pi x?>.evil.example".into(),
        ..Opts::default()
    })
    .unwrap();
    assert_eq!(v.name_id, "ann@example.com.evil.example");
}

// ---- signatures ----------------------------------------------------------------------------

#[test]
fn unsigned_response_is_refused() {
    assert_eq!(
        code(check(&Opts {
            sign: Sign::None,
            ..Opts::default()
        })),
        "unsigned"
    );
}

#[test]
fn signature_by_another_key_is_refused_and_named_by_fingerprint() {
    let err = check(&Opts {
        key: "other",
        ..Opts::default()
    })
    .unwrap_err();
    assert_eq!(err.code(), "bad_signature");
    let other = portal_saml::cert::fingerprint(&cert_der("other"));
    assert!(err.to_string().contains(&other), "{err}");
    assert!(
        err.to_string().contains("not the one configured here"),
        "{err}"
    );
}

#[test]
fn certificate_in_key_info_is_never_trusted() {
    // Signed by the attacker's key, whose certificate travels in KeyInfo: a verifier that used
    // KeyInfo would accept it.
    let xml = signed_xml(&Opts {
        key: "other",
        ..Opts::default()
    });
    assert!(xml.contains("X509Certificate>MII"));
    assert_eq!(code(check_xml(&xml)), "bad_signature");
}

#[test]
fn wrong_org_certificate_is_refused() {
    // Org B's configured certificate does not verify org A's IdP's response.
    let certs = vec![cert_der("other")];
    let r = validate(
        &signed_xml(&Opts::default()),
        &expect_with(&certs, Some(IDP)),
    );
    assert_eq!(code(r), "bad_signature");
}

#[test]
fn tampered_name_id_after_signing_is_refused() {
    let xml = signed_xml(&Opts::default()).replace("ann@example.com", "admin@example.com");
    assert_eq!(code(check_xml(&xml)), "bad_signature");
}

#[test]
fn sha1_signature_is_refused() {
    let r = check(&Opts {
        signature_alg: RSA_SHA1,
        digest_alg: SHA1,
        ..Opts::default()
    });
    assert_eq!(code(r), "sha1");
}

#[test]
fn sha1_digest_under_sha256_signature_is_refused() {
    let r = check(&Opts {
        digest_alg: SHA1,
        ..Opts::default()
    });
    assert_eq!(code(r), "sha1");
}

// ---- signature wrapping ----------------------------------------------------------------------

fn evil_assertion(id: &str) -> String {
    assertion_xml(
        &Opts {
            assertion_id: id.into(),
            name_id_xml: "admin@example.com".into(),
            ..Opts::default()
        },
        false,
    )
}

#[test]
fn xsw_unsigned_assertion_beside_signed_one_is_refused() {
    let xml = signed_xml(&Opts::default());
    let at = xml.find("<saml:Assertion").unwrap();
    let wrapped = format!("{}{}{}", &xml[..at], evil_assertion("_evil"), &xml[at..]);
    assert_eq!(code(check_xml(&wrapped)), "assertion_count");
}

#[test]
fn xsw_signed_assertion_moved_into_extensions_is_refused() {
    let xml = signed_xml(&Opts::default());
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let signed = &xml[start..end];
    let without = format!(
        "{}{}{}",
        &xml[..start],
        evil_assertion("_evil"),
        &xml[end..]
    );
    let status = without.find("<samlp:Status>").unwrap();
    let moved = format!(
        "{}<samlp:Extensions>{signed}</samlp:Extensions>{}",
        &without[..status],
        &without[status..]
    );
    assert_eq!(code(check_xml(&moved)), "assertion_count");
}

#[test]
fn xsw_evil_assertion_with_the_signed_id_is_refused() {
    let xml = signed_xml(&Opts::default());
    let at = xml.find("<saml:Assertion").unwrap();
    let wrapped = format!("{}{}{}", &xml[..at], evil_assertion("_assert1"), &xml[at..]);
    let r = check_xml(&wrapped);
    assert!(
        matches!(code(r), "assertion_count" | "duplicate_id"),
        "refused as a wrapping attempt"
    );
}

#[test]
fn xsw_signed_response_with_assertion_replaced_is_refused() {
    // The Response signature covers the original assertion; swapping in another one breaks it.
    let xml = signed_xml(&Opts {
        sign: Sign::Response,
        ..Opts::default()
    });
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let swapped = format!(
        "{}{}{}",
        &xml[..start],
        evil_assertion("_assert1"),
        &xml[end..]
    );
    assert_eq!(code(check_xml(&swapped)), "bad_signature");
}

#[test]
fn signature_over_another_element_does_not_vouch_for_the_assertion() {
    // A valid signature by the right key, but over an Extensions element: the assertion itself
    // is not covered, so nothing in it may be acted on.
    let o = Opts {
        sign: Sign::None,
        extra_in_response: format!(
            r#"<samlp:Extensions ID="_ext">{}</samlp:Extensions>"#,
            signature_template("_ext", &Opts::default())
        ),
        ..Opts::default()
    };
    let xml = response_xml(&o, &assertion_xml(&o, false));
    let signed = xmlsec_sign(&xml, "idp", None);
    // Refused by the shape check before xmlsec runs; the reduction to signed content (which
    // would leave no assertion, "assertion_not_signed") stays behind it as a second line.
    assert_eq!(code(check_xml(&signed)), "signature_shape");
}

#[test]
fn multiple_assertions_are_refused() {
    let o = Opts::default();
    let two = format!("{}{}", assertion_xml(&o, false), evil_assertion("_a2"));
    let xml = response_xml(&o, &two);
    assert_eq!(code(check_xml(&xml)), "assertion_count");
}

#[test]
fn encrypted_assertion_is_refused_with_advice() {
    let o = Opts::default();
    let xml = response_xml(
        &o,
        r#"<saml:EncryptedAssertion><x/></saml:EncryptedAssertion>"#,
    );
    let err = check_xml(&xml).unwrap_err();
    assert_eq!(err.code(), "encrypted");
    assert!(err.to_string().contains("encryption"));
}

// ---- parsing hazards ------------------------------------------------------------------------

#[test]
fn dtd_is_refused() {
    let xml = signed_xml(&Opts::default());
    let body = xml.trim_start_matches(|c| c != '>').trim_start_matches('>');
    let with_dtd = format!("<?xml version=\"1.0\"?><!DOCTYPE Response [<!ELEMENT x ANY>]>{body}");
    assert_eq!(code(check_xml(&with_dtd)), "dtd");
}

#[test]
fn xxe_external_entity_is_refused() {
    let o = Opts {
        name_id_xml: "&xxe;".into(),
        sign: Sign::None,
        ..Opts::default()
    };
    let xml = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        response_xml(&o, &assertion_xml(&o, false))
    );
    assert_eq!(code(check_xml(&xml)), "dtd");
}

#[test]
fn billion_laughs_is_refused() {
    let mut dtd = String::from("<!ENTITY lol \"lol\">");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        dtd.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        ));
    }
    let o = Opts {
        name_id_xml: "&lol9;".into(),
        sign: Sign::None,
        ..Opts::default()
    };
    let xml = format!(
        "<!DOCTYPE r [{dtd}]>{}",
        response_xml(&o, &assertion_xml(&o, false))
    );
    let started = std::time::Instant::now();
    assert_eq!(code(check_xml(&xml)), "dtd");
    assert!(
        started.elapsed().as_secs() < 5,
        "refused before any expansion"
    );
}

#[test]
fn oversized_response_is_refused() {
    let o = Opts {
        attributes: vec![("padding".into(), "x".repeat(300 * 1024))],
        sign: Sign::None,
        ..Opts::default()
    };
    let xml = response_xml(&o, &assertion_xml(&o, false));
    assert_eq!(code(check_xml(&xml)), "too_large");
    assert_eq!(decode(&b64(&xml)).unwrap_err().code(), "too_large");
}

#[test]
fn deflated_payload_is_not_inflated() {
    // The POST binding never deflates: a deflated response (or a deflate bomb) is refused as the
    // bytes it is, not inflated.
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(signed_xml(&Opts::default()).as_bytes())
        .unwrap();
    let deflated = enc.finish().unwrap();
    let r = decode(&base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        deflated,
    ));
    assert_eq!(r, Err(Failure::NotUtf8));
}

#[test]
fn not_base64_is_refused() {
    assert_eq!(
        decode("%%% not base64 %%%").unwrap_err().code(),
        "not_base64"
    );
    assert_eq!(decode("").unwrap_err().code(), "not_base64");
}

#[test]
fn malformed_xml_is_refused() {
    assert_eq!(code(check_xml("<samlp:Response")), "malformed");
    assert_eq!(code(check_xml("<a/>")), "not_a_response");
}

// ---- policy ---------------------------------------------------------------------------------

#[test]
fn wrong_audience_is_refused() {
    let err = check(&Opts {
        audience: Some("https://other-sp.example/metadata".into()),
        ..Opts::default()
    })
    .unwrap_err();
    assert_eq!(err.code(), "audience");
    assert!(err.to_string().contains("another audience"));
}

#[test]
fn missing_audience_restriction_is_refused() {
    assert_eq!(
        code(check(&Opts {
            audience: None,
            ..Opts::default()
        })),
        "no_audience"
    );
}

#[test]
fn destination_that_only_starts_with_our_acs_is_refused() {
    assert_eq!(
        code(check(&Opts {
            destination: Some(format!("{ACS}/../../evil")),
            ..Opts::default()
        })),
        "destination"
    );
    assert_eq!(
        code(check(&Opts {
            destination: Some(ACS[..ACS.len() - 1].to_string()),
            ..Opts::default()
        })),
        "destination"
    );
}

#[test]
fn missing_destination_is_refused() {
    assert_eq!(
        code(check(&Opts {
            destination: None,
            ..Opts::default()
        })),
        "destination"
    );
}

#[test]
fn recipient_of_another_acs_is_refused() {
    assert_eq!(
        code(check(&Opts {
            recipient: Some(format!("{ACS}x")),
            ..Opts::default()
        })),
        "recipient"
    );
}

#[test]
fn expired_assertion_is_refused() {
    assert_eq!(
        code(check(&Opts {
            not_on_or_after_ms: NOW_MS - 200_000,
            ..Opts::default()
        })),
        "expired"
    );
}

#[test]
fn expired_bearer_confirmation_is_refused() {
    assert_eq!(
        code(check(&Opts {
            bearer_not_on_or_after_ms: Some(NOW_MS - 200_000),
            ..Opts::default()
        })),
        "expired"
    );
}

#[test]
fn bearer_confirmation_without_not_on_or_after_is_refused() {
    assert_eq!(
        code(check(&Opts {
            bearer_not_on_or_after_ms: None,
            ..Opts::default()
        })),
        "no_bearer"
    );
}

#[test]
fn not_yet_valid_assertion_is_refused() {
    assert_eq!(
        code(check(&Opts {
            not_before_ms: NOW_MS + 200_000,
            ..Opts::default()
        })),
        "not_yet_valid"
    );
}

#[test]
fn non_success_status_is_refused() {
    let err = check(&Opts {
        status: "urn:oasis:names:tc:SAML:2.0:status:Responder".into(),
        ..Opts::default()
    })
    .unwrap_err();
    assert_eq!(err.code(), "status");
    assert!(err.to_string().contains("Responder"));
}

#[test]
fn wrong_issuer_is_refused_when_configured() {
    assert_eq!(
        code(check(&Opts {
            issuer: "https://evil-idp.example".into(),
            ..Opts::default()
        })),
        "issuer"
    );
}

#[test]
fn empty_name_id_is_refused() {
    assert_eq!(
        code(check(&Opts {
            name_id_xml: "  ".into(),
            ..Opts::default()
        })),
        "no_name_id"
    );
}

// ---- signature shapes and parser agreement ------------------------------------------------------

#[test]
fn non_utf8_encoding_declaration_is_refused() {
    let xml = signed_xml(&Opts::default());
    let body = xml.trim_start_matches(|c| c != '>').trim_start_matches('>');
    for enc in ["UTF-7", "ISO-8859-1", "UTF-16"] {
        let declared = format!("<?xml version=\"1.0\" encoding=\"{enc}\"?>{body}");
        assert_eq!(code(check_xml(&declared)), "encoding", "{enc}");
    }
    let utf8 = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>{body}");
    assert!(check_xml(&utf8).is_ok());
}

#[test]
fn reference_to_a_file_or_url_never_reaches_xmlsec() {
    let xml = signed_xml(&Opts::default());
    for uri in [
        "file:///dev/zero",
        "http://169.254.169.254/latest",
        "",
        "#_resp1",
    ] {
        let changed = xml.replace("URI=\"#_assert1\"", &format!("URI=\"{uri}\""));
        assert_eq!(code(check_xml(&changed)), "signature_shape", "{uri}");
    }
}

#[test]
fn xslt_transform_is_refused() {
    let xml = signed_xml(&Opts::default()).replace(
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/TR/1999/REC-xslt-19991116",
    );
    assert_eq!(code(check_xml(&xml)), "signature_shape");
}

#[test]
fn ds_object_is_refused() {
    let xml = signed_xml(&Opts::default()).replace(
        "</ds:Signature>",
        "<ds:Object><x/></ds:Object></ds:Signature>",
    );
    assert_eq!(code(check_xml(&xml)), "signature_shape");
}

#[test]
fn element_sharing_the_assertion_id_is_refused() {
    // Added after signing, as an attacker would: which element "#_assert1" names is ambiguous.
    let xml = signed_xml(&Opts::default()).replace(
        "<samlp:Status>",
        r#"<samlp:Extensions ID="_assert1"/><samlp:Status>"#,
    );
    assert_eq!(code(check_xml(&xml)), "duplicate_id");
}

#[test]
fn assertion_not_directly_in_the_response_is_refused() {
    let xml = signed_xml(&Opts::default());
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let signed = &xml[start..end];
    let rest = format!("{}{}", &xml[..start], &xml[end..]);
    let status = rest.find("<samlp:Status>").unwrap();
    let nested = format!(
        "{}<samlp:Extensions>{signed}</samlp:Extensions>{}",
        &rest[..status],
        &rest[status..]
    );
    assert_eq!(code(check_xml(&nested)), "assertion_count");
}

#[test]
fn markup_inside_name_id_is_refused() {
    let r = check(&Opts {
        name_id_xml: "ann@example.com<saml:X>y</saml:X>".into(),
        ..Opts::default()
    });
    assert_eq!(code(r), "name_id_markup");
}

#[test]
fn bearer_confirmation_not_yet_valid_is_refused() {
    assert_eq!(
        code(check(&Opts {
            bearer_not_before_ms: Some(NOW_MS + 200_000),
            ..Opts::default()
        })),
        "not_yet_valid"
    );
}

#[test]
fn response_and_assertion_in_response_to_must_agree() {
    let r = check(&Opts {
        sign: Sign::Both,
        in_response_to: Some("_req_a".into()),
        response_in_response_to: Some("_req_b".into()),
        ..Opts::default()
    });
    assert_eq!(code(r), "in_response_to_mismatch");
}

#[test]
fn unsigned_response_in_response_to_is_ignored() {
    // Only the assertion is signed: the Response's InResponseTo could have been added or removed
    // by anyone, so it neither binds nor unbinds the response to a request.
    let v = check(&Opts {
        sign: Sign::Assertion,
        response_in_response_to: Some("_req_unsigned".into()),
        ..Opts::default()
    })
    .unwrap();
    assert_eq!(v.in_response_to, None);
    let signed = check(&Opts {
        sign: Sign::Response,
        response_in_response_to: Some("_req_signed".into()),
        ..Opts::default()
    })
    .unwrap();
    assert_eq!(signed.in_response_to.as_deref(), Some("_req_signed"));
}

#[test]
fn signed_response_issuer_must_match_when_configured() {
    let r = check(&Opts {
        sign: Sign::Both,
        response_issuer: Some("https://evil-idp.example".into()),
        ..Opts::default()
    });
    assert_eq!(code(r), "issuer");
}
