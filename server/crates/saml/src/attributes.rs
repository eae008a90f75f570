//! Reading user fields out of an assertion's attributes, accepting the names IdPs actually send
//! (`email`/`mail`/claim URIs, `firstname`/`givenName`/`given_name`, `sn`/`surname`, …).

use serde::{Deserialize, Serialize};

/// The user fields an assertion can fill, in the order the screens list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    Email,
    GivenName,
    FamilyName,
    Department,
    Country,
    City,
    Language,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Email,
        Field::GivenName,
        Field::FamilyName,
        Field::Department,
        Field::Country,
        Field::City,
        Field::Language,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Field::Email => "Email (userName)",
            Field::GivenName => "First name",
            Field::FamilyName => "Last name",
            Field::Department => "Department",
            Field::Country => "Country",
            Field::City => "City",
            Field::Language => "Preferred language",
        }
    }
    /// Expected for a complete JIT profile (the rest are optional).
    pub fn expected(self) -> bool {
        matches!(self, Field::Email | Field::GivenName | Field::FamilyName)
    }
}

/// Attribute names (lower-cased) whose value is the user's email address.
const EMAIL_NAMES: &[&str] = &[
    "email",
    "mail",
    "emailaddress",
    "e-mail",
    "email_address",
    "user.email",
    "user.mail",
    "useremail",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "http://schemas.xmlsoap.org/claims/emailaddress",
];

/// Which field an attribute name fills, if any.
pub fn field_of(name: &str) -> Option<Field> {
    let lower = name.trim().to_ascii_lowercase();
    match lower.as_str() {
        "urn:oid:0.9.2342.19200300.100.1.3" => return Some(Field::Email),
        "urn:oid:2.5.4.42" => return Some(Field::GivenName),
        "urn:oid:2.5.4.4" => return Some(Field::FamilyName),
        "urn:oid:2.5.4.11" => return Some(Field::Department),
        "urn:oid:2.5.4.6" => return Some(Field::Country),
        "urn:oid:2.5.4.7" => return Some(Field::City),
        "urn:oid:2.16.840.1.113730.3.1.39" => return Some(Field::Language),
        _ => {}
    }
    // The email decides which account signs in, so only exact, well-known names fill it (a
    // suffix match would read `manager.email` as the user's own address).
    if EMAIL_NAMES.contains(&lower.as_str()) {
        return Some(Field::Email);
    }
    // Claim URIs (…/claims/givenname) and dotted names (user.firstname) end in the real name.
    let last = lower
        .rsplit(['/', '.', ':'])
        .next()
        .unwrap_or(&lower)
        .replace(['_', '-', ' '], "");
    Some(match last.as_str() {
        "firstname" | "givenname" | "given" => Field::GivenName,
        "lastname" | "sn" | "surname" | "familyname" | "family" => Field::FamilyName,
        "department" | "dept" => Field::Department,
        "country" | "countrycode" | "c" | "co" => Field::Country,
        "city" | "locality" | "l" => Field::City,
        "language" | "preferredlanguage" | "locale" | "lang" => Field::Language,
        _ => return None,
    })
}

/// One row of the Test sign-in table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filled {
    pub field: Field,
    pub value: Option<String>,
    /// The attribute (or "NameID") it came from.
    pub from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Profile {
    pub email: Option<String>,
    /// Email attributes with different addresses (and no email NameID): nobody can tell which
    /// account is meant, so sign-in is refused.
    pub email_conflict: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub department: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub language: Option<String>,
    pub filled: Vec<Filled>,
}

impl Profile {
    pub fn missing_expected(&self) -> Vec<Field> {
        self.filled
            .iter()
            .filter(|f| f.value.is_none() && f.field.expected())
            .map(|f| f.field)
            .collect()
    }
}

fn looks_like_email(s: &str) -> bool {
    let s = s.trim();
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// Maps NameID and attributes to user fields. The email comes from NameID when NameID is an
/// address, else from an email attribute.
pub fn profile(name_id: &str, attributes: &[(String, Vec<String>)]) -> Profile {
    let mut p = Profile::default();
    if !looks_like_email(name_id) {
        let mut addresses: Vec<String> = attributes
            .iter()
            .filter(|(n, _)| field_of(n) == Some(Field::Email))
            .flat_map(|(_, vs)| vs.iter())
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| looks_like_email(v))
            .collect();
        addresses.sort();
        addresses.dedup();
        p.email_conflict = addresses.len() > 1;
    }
    for field in Field::ALL {
        let mut value = None;
        let mut from = None;
        if field == Field::Email && looks_like_email(name_id) {
            value = Some(name_id.trim().to_string());
            from = Some("NameID".to_string());
        }
        if value.is_none() {
            for (name, values) in attributes {
                if field_of(name) != Some(field) {
                    continue;
                }
                if let Some(v) = values.iter().map(|v| v.trim()).find(|v| !v.is_empty()) {
                    if field == Field::Email && !looks_like_email(v) {
                        continue;
                    }
                    value = Some(v.chars().take(256).collect());
                    from = Some(name.clone());
                    break;
                }
            }
        }
        match field {
            Field::Email => p.email = value.clone(),
            Field::GivenName => p.given_name = value.clone(),
            Field::FamilyName => p.family_name = value.clone(),
            Field::Department => p.department = value.clone(),
            Field::Country => p.country = value.clone(),
            Field::City => p.city = value.clone(),
            Field::Language => p.language = value.clone(),
        }
        p.filled.push(Filled { field, value, from });
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: &str, v: &str) -> (String, Vec<String>) {
        (n.to_string(), vec![v.to_string()])
    }

    #[test]
    fn the_usual_attribute_names_fill_the_same_fields() {
        let p = profile(
            "opaque-id-123",
            &[
                a(
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                    "ann@example.com",
                ),
                a("given_name", "Ann"),
                a("sn", "Lee"),
                a("department", "R&D"),
                a("country", "FI"),
                a("city", "Espoo"),
                a("preferredLanguage", "fi"),
            ],
        );
        assert_eq!(p.email.as_deref(), Some("ann@example.com"));
        assert_eq!(p.given_name.as_deref(), Some("Ann"));
        assert_eq!(p.family_name.as_deref(), Some("Lee"));
        assert_eq!(p.department.as_deref(), Some("R&D"));
        assert_eq!(p.country.as_deref(), Some("FI"));
        assert_eq!(p.city.as_deref(), Some("Espoo"));
        assert_eq!(p.language.as_deref(), Some("fi"));
        for n in [
            "email",
            "mail",
            "emailaddress",
            "urn:oid:0.9.2342.19200300.100.1.3",
            "user.email",
        ] {
            assert_eq!(field_of(n), Some(Field::Email), "{n}");
        }
        for n in ["firstname", "givenName", "given_name", "urn:oid:2.5.4.42"] {
            assert_eq!(field_of(n), Some(Field::GivenName), "{n}");
        }
        for n in ["lastname", "sn", "surname", "family_name"] {
            assert_eq!(field_of(n), Some(Field::FamilyName), "{n}");
        }
        assert_eq!(field_of("memberOf"), None);
    }

    #[test]
    fn name_id_email_wins_and_missing_fields_are_named() {
        let p = profile("bob@example.com", &[a("email", "other@example.com")]);
        assert_eq!(p.email.as_deref(), Some("bob@example.com"));
        assert_eq!(p.filled[0].from.as_deref(), Some("NameID"));
        assert_eq!(
            p.missing_expected(),
            vec![Field::GivenName, Field::FamilyName]
        );
        let none = profile("not-an-email", &[]);
        assert_eq!(none.email, None);
        // An opaque NameID with two different addresses: refused, not the first one taken.
        let two = profile(
            "opaque-1234",
            &[a("email", "ann@example.com"), a("mail", "boss@example.com")],
        );
        assert!(two.email_conflict);
        let same = profile(
            "opaque-1234",
            &[a("email", "ann@example.com"), a("mail", "ANN@example.com")],
        );
        assert!(!same.email_conflict);
    }
}
