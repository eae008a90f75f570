//! Our SP metadata, and reading an IdP's metadata for the import on the Single Sign-On screen.

use roxmltree::{Document, Node, ParsingOptions};

use crate::cert::{parse_certificate, CertError, CertInfo};
use crate::response::NS_DSIG;
use crate::xml_escape;

const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const MAX_METADATA: usize = 512 * 1024;

/// The SP metadata an admin gives the IdP.
pub fn sp_metadata(entity_id: &str, acs_url: &str, org_name: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
  <md:Organization>
    <md:OrganizationName xml:lang="en">{org}</md:OrganizationName>
    <md:OrganizationDisplayName xml:lang="en">{org}</md:OrganizationDisplayName>
    <md:OrganizationURL xml:lang="en">{entity}</md:OrganizationURL>
  </md:Organization>
</md:EntityDescriptor>
"#,
        entity = xml_escape(entity_id),
        acs = xml_escape(acs_url),
        org = xml_escape(org_name),
    )
}

/// What an IdP's metadata says about signing in with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_url: String,
    /// Signing certificates, at most two (current and next).
    pub certificates: Vec<CertInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("The metadata is larger than 512 KiB.")]
    TooLarge,
    #[error("The metadata contains a DTD, which is never accepted.")]
    Dtd,
    #[error("The metadata is not well-formed XML: {0}")]
    Malformed(String),
    #[error("The metadata has no IdP (IDPSSODescriptor). Is this the SP's metadata rather than the IdP's?")]
    NoIdp,
    #[error("The IdP metadata has no entityID.")]
    NoEntityId,
    #[error(
        "The IdP metadata has no SingleSignOnService for the HTTP-Redirect or HTTP-POST binding."
    )]
    NoSsoUrl,
    #[error("The IdP metadata has no signing certificate.")]
    NoCertificate,
    #[error("The IdP metadata lists more than two signing certificates; at most two (current and next) are supported.")]
    TooManyCertificates,
    #[error("A certificate in the metadata is unusable: {0}")]
    Certificate(CertError),
}

fn is(n: &Node, ns: &str, name: &str) -> bool {
    n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == name
}

pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, MetadataError> {
    if xml.len() > MAX_METADATA {
        return Err(MetadataError::TooLarge);
    }
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(MetadataError::Dtd);
    }
    let doc = Document::parse_with_options(
        xml.trim_start_matches('\u{feff}'),
        ParsingOptions {
            allow_dtd: false,
            nodes_limit: 50_000,
        },
    )
    .map_err(|e| MetadataError::Malformed(e.to_string()))?;
    let idp = doc
        .descendants()
        .find(|n| is(n, NS_MD, "IDPSSODescriptor"))
        .ok_or(MetadataError::NoIdp)?;
    let entity = idp
        .ancestors()
        .find(|n| is(n, NS_MD, "EntityDescriptor"))
        .and_then(|e| e.attribute("entityID"))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(MetadataError::NoEntityId)?;
    let sso = |binding: &str| {
        idp.children()
            .filter(|c| is(c, NS_MD, "SingleSignOnService"))
            .find(|c| c.attribute("Binding") == Some(binding))
            .and_then(|c| c.attribute("Location"))
            .map(|s| s.trim().to_string())
    };
    let sso_url = sso(REDIRECT)
        .or_else(|| sso(POST))
        .ok_or(MetadataError::NoSsoUrl)?;
    let mut certificates: Vec<CertInfo> = Vec::new();
    for kd in idp.children().filter(|c| is(c, NS_MD, "KeyDescriptor")) {
        if matches!(kd.attribute("use"), Some(u) if u != "signing") {
            continue;
        }
        for x in kd
            .descendants()
            .filter(|n| is(n, NS_DSIG, "X509Certificate"))
        {
            let text: String = x
                .descendants()
                .filter(|t| t.is_text())
                .filter_map(|t| t.text())
                .collect();
            let info = parse_certificate(&text).map_err(MetadataError::Certificate)?;
            if !certificates
                .iter()
                .any(|c| c.fingerprint == info.fingerprint)
            {
                certificates.push(info);
            }
        }
    }
    if certificates.is_empty() {
        return Err(MetadataError::NoCertificate);
    }
    if certificates.len() > 2 {
        return Err(MetadataError::TooManyCertificates);
    }
    Ok(IdpMetadata {
        entity_id: entity.to_string(),
        sso_url,
        certificates,
    })
}
