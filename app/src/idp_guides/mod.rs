//! Guided setup per identity provider (issue 13): each IdP's own steps and field names, with our
//! values filled in, for the Single Sign-On and the Automated user provisioning screens.
//!
//! The texts are data, one file per IdP, compiled in: a [`Guide`] holds a [`Part`] per screen,
//! either steps or an explicit "not supported" note. Texts and field values may hold placeholders
//! (`{acs_url}`, `{scim_base_url}`, …), filled by [`fill`] from the values the screen already
//! shows; [`Screen::placeholders`] lists the ones each screen knows (a unit test checks every
//! guide against it). `**text**` marks an IdP's field or button name. The choice lives in the
//! URL (`?idp=jumpcloud`), so it survives a reload and works without JavaScript.

mod entra;
mod generic;
mod google;
mod jumpcloud;
mod okta;
mod onelogin;

use leptos::prelude::*;

use crate::components::CopyField;

/// The query parameter naming the chosen guide.
pub const QUERY: &str = "idp";

/// Every guide, in the order of the picker.
pub const GUIDES: &[&Guide] = &[
    &jumpcloud::GUIDE,
    &okta::GUIDE,
    &entra::GUIDE,
    &google::GUIDE,
    &onelogin::GUIDE,
    &generic::GUIDE,
];

/// One identity provider's guide.
pub struct Guide {
    /// Its value of `?idp=`.
    pub id: &'static str,
    /// Its name in the picker and headings.
    pub name: &'static str,
    pub sso: Part,
    pub provisioning: Part,
}

/// A guide's part for one screen.
pub enum Part {
    Steps {
        /// A short paragraph before the steps.
        intro: &'static str,
        steps: &'static [Step],
        /// Limits and considerations after the steps.
        notes: &'static [&'static str],
    },
    /// The IdP cannot do this: why, and what to do instead.
    NotSupported(&'static str),
}

/// One numbered step.
pub struct Step {
    pub text: &'static str,
    /// Sub-items of the step, in order.
    pub items: &'static [&'static str],
    /// Values to copy into the IdP's fields, shown with Copy buttons.
    pub fields: &'static [Field],
    pub table: Option<&'static Table>,
}

impl Step {
    /// A step of text only, for `..Step::TEXT`.
    pub const TEXT: Step = Step {
        text: "",
        items: &[],
        fields: &[],
        table: None,
    };
}

/// A value to copy: the IdP's field name and a template of our value.
pub struct Field {
    /// The field's name as the IdP's console shows it.
    pub label: &'static str,
    /// The input's id, unique on the page (`guide-…`).
    pub id: &'static str,
    pub value: &'static str,
}

/// A reference table (e.g. JumpCloud's attribute mappings).
pub struct Table {
    pub caption: &'static str,
    pub head: &'static [&'static str],
    pub rows: &'static [&'static [&'static str]],
}

/// The screen a guide part is shown on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Sso,
    Provisioning,
}

impl Screen {
    /// The placeholders this screen fills.
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            Screen::Sso => &[
                "acs_url",
                "acs_url_pattern",
                "entity_id",
                "login_url",
                "metadata_url",
                "org_id",
                "employee_login_url",
            ],
            Screen::Provisioning => &["scim_base_url"],
        }
    }

    fn path(self) -> &'static str {
        match self {
            Screen::Sso => "/admin/sso",
            Screen::Provisioning => "/admin/provisioning",
        }
    }
}

impl Guide {
    pub fn part(&self, screen: Screen) -> &Part {
        match screen {
            Screen::Sso => &self.sso,
            Screen::Provisioning => &self.provisioning,
        }
    }
}

/// The guide of an `?idp=` value.
pub fn find(id: &str) -> Option<&'static Guide> {
    GUIDES.iter().copied().find(|g| g.id == id)
}

/// The names of the `{placeholders}` in a template.
pub fn placeholders_in(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// The template with each `{name}` replaced by its value (one pass: a value is never
/// re-read as a template). An unknown name stays as written (the unit test forbids them).
pub fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            rest = &rest[start..];
            break;
        };
        let name = &after[..end];
        match values.iter().find(|(k, _)| *k == name) {
            Some((_, v)) => out.push_str(v),
            None => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A regular expression matching exactly `url` (OneLogin's ACS URL validator).
pub fn exact_pattern(url: &str) -> String {
    let mut out = String::from("^");
    for c in url.chars() {
        if "\\.+*?()|[]{}^$/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
    out
}

/// Text with `**field names**` in bold.
fn rich(text: String) -> impl IntoView {
    text.split("**")
        .enumerate()
        .map(|(i, s)| {
            if i % 2 == 1 {
                view! { <strong>{s.to_string()}</strong> }.into_any()
            } else {
                s.to_string().into_any()
            }
        })
        .collect_view()
}

/// The SSO screen's placeholder values (the admin's screen and a setup link's fill the same).
pub struct SsoValues<'a> {
    pub acs_url: &'a str,
    pub entity_id: &'a str,
    pub login_url: &'a str,
    pub metadata_url: &'a str,
    pub org_id: &'a str,
    pub employee_login_url: &'a str,
}

impl SsoValues<'_> {
    pub fn to_values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("acs_url", self.acs_url.to_string()),
            ("acs_url_pattern", exact_pattern(self.acs_url)),
            ("entity_id", self.entity_id.to_string()),
            ("login_url", self.login_url.to_string()),
            ("metadata_url", self.metadata_url.to_string()),
            ("org_id", self.org_id.to_string()),
            ("employee_login_url", self.employee_login_url.to_string()),
        ]
    }
}

/// "Set up with: JumpCloud · Okta · …" and, when `?idp=` names one, its guide for this screen.
/// `values` are the screen's placeholder values; `path` the page's own address when it is not
/// the admin screen's (a setup link's pages, issue 13).
#[component]
pub fn GuidedSetup(
    screen: Screen,
    values: Vec<(&'static str, String)>,
    #[prop(optional)] path: Option<String>,
) -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let chosen = move || query.with(|q| q.get(QUERY));
    let path = path.unwrap_or_else(|| screen.path().to_string());
    let picker_path = path.clone();
    let picker = GUIDES
        .iter()
        .map(|g| {
            let id = g.id;
            let current = move || (chosen().as_deref() == Some(id)).then_some("page");
            view! {
                <li>
                    <a href=format!("{picker_path}?{QUERY}={id}") aria-current=current data-testid=format!("guide-pick-{id}")>
                        {g.name}
                    </a>
                </li>
            }
        })
        .collect_view();
    let body = move || {
        let id = chosen()?;
        let Some(guide) = find(&id) else {
            return Some(
                view! {
                    <p class="alert warn" role="alert" data-testid="guide-unknown">
                        "There is no guide for that identity provider. Choose one above, or "
                        <a href=path.clone()>"close the guide"</a>
                        "."
                    </p>
                }
                .into_any(),
            );
        };
        Some(
            view! { <GuideBody guide screen values=values.clone() path=path.clone() /> }.into_any(),
        )
    };
    view! {
        <nav class="guide-picker" aria-label="Guided setup">
            <span>"Set up with:"</span>
            <ul>{picker}</ul>
        </nav>
        {body}
    }
}

#[component]
fn GuideBody(
    guide: &'static Guide,
    screen: Screen,
    values: Vec<(&'static str, String)>,
    path: String,
) -> impl IntoView {
    let title = match screen {
        Screen::Sso => format!("Set up SAML single sign-on in {}", guide.name),
        Screen::Provisioning => format!("Set up SCIM provisioning in {}", guide.name),
    };
    let content = match guide.part(screen) {
        Part::NotSupported(why) => view! {
            <p class="alert warn" data-testid="guide-not-supported">{rich(fill(why, &values))}</p>
        }
        .into_any(),
        Part::Steps {
            intro,
            steps,
            notes,
        } => {
            let steps = steps
                .iter()
                .map(|s| {
                    let items = (!s.items.is_empty()).then(|| {
                        view! {
                            <ul>
                                {s.items.iter().map(|i| view! { <li>{rich(fill(i, &values))}</li> }).collect_view()}
                            </ul>
                        }
                    });
                    let fields = s
                        .fields
                        .iter()
                        .map(|f| view! { <CopyField label=f.label id=f.id value=fill(f.value, &values) /> })
                        .collect_view();
                    let table = s.table.map(|t| {
                        view! {
                            <div class="table-wrap">
                                <table class="data">
                                    <caption>{t.caption}</caption>
                                    <thead>
                                        <tr>{t.head.iter().map(|h| view! { <th scope="col">{*h}</th> }).collect_view()}</tr>
                                    </thead>
                                    <tbody>
                                        {t.rows
                                            .iter()
                                            .map(|r| view! { <tr>{r.iter().map(|c| view! { <td>{*c}</td> }).collect_view()}</tr> })
                                            .collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }
                    });
                    view! { <li>{rich(fill(s.text, &values))}{items}{fields}{table}</li> }
                })
                .collect_view();
            let notes = (!notes.is_empty()).then(|| {
                view! {
                    <h3>"Good to know"</h3>
                    <ul class="guide-notes">
                        {notes.iter().map(|n| view! { <li>{rich(fill(n, &values))}</li> }).collect_view()}
                    </ul>
                }
            });
            view! {
                <p>{rich(fill(intro, &values))}</p>
                <ol class="guide-steps">{steps}</ol>
                {notes}
            }
            .into_any()
        }
    };
    view! {
        <section class="card guide" aria-labelledby="guide-title" data-testid="guide" data-idp=guide.id>
            <h2 id="guide-title">{title}</h2>
            {content}
            <p><a href=path data-testid="guide-close">"Close the guide"</a></p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sso_values_are_exactly_the_sso_screens_placeholders() {
        let v = SsoValues {
            acs_url: "https://p.test/saml/o/acs",
            entity_id: "e",
            login_url: "l",
            metadata_url: "m",
            org_id: "o",
            employee_login_url: "u",
        }
        .to_values();
        let mut keys: Vec<&str> = v.iter().map(|(k, _)| *k).collect();
        let mut want: Vec<&str> = Screen::Sso.placeholders().to_vec();
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want);
    }

    fn templates(part: &Part) -> Vec<&'static str> {
        match part {
            Part::NotSupported(t) => vec![t],
            Part::Steps {
                intro,
                steps,
                notes,
            } => {
                let mut v = vec![*intro];
                v.extend(notes.iter().copied());
                for s in steps.iter() {
                    v.push(s.text);
                    v.extend(s.items.iter().copied());
                    v.extend(s.fields.iter().map(|f| f.value));
                    if let Some(t) = s.table {
                        v.push(t.caption);
                        v.extend(t.head.iter().copied());
                        v.extend(t.rows.iter().flat_map(|r| r.iter().copied()));
                    }
                }
                v
            }
        }
    }

    #[test]
    fn every_idp_of_the_issue_has_a_guide_with_a_unique_id() {
        let ids: Vec<&str> = GUIDES.iter().map(|g| g.id).collect();
        assert_eq!(
            ids,
            [
                "jumpcloud",
                "okta",
                "entra",
                "google",
                "onelogin",
                "generic"
            ]
        );
        for g in GUIDES {
            assert_eq!(find(g.id).map(|f| f.name), Some(g.name));
        }
        assert!(find("").is_none());
        assert!(find("JumpCloud").is_none());
    }

    #[test]
    fn every_placeholder_is_one_the_screen_fills_and_every_part_has_content() {
        for g in GUIDES {
            for screen in [Screen::Sso, Screen::Provisioning] {
                let part = g.part(screen);
                if let Part::Steps { intro, steps, .. } = part {
                    assert!(!intro.is_empty(), "{} {screen:?}: no intro", g.id);
                    assert!(!steps.is_empty(), "{} {screen:?}: no steps", g.id);
                    for s in steps.iter() {
                        assert!(!s.text.is_empty(), "{} {screen:?}: an empty step", g.id);
                    }
                }
                for t in templates(part) {
                    assert_eq!(
                        t.matches('{').count(),
                        t.matches('}').count(),
                        "{} {screen:?}: unbalanced braces in {t:?}",
                        g.id
                    );
                    assert_eq!(
                        t.matches("**").count() % 2,
                        0,
                        "{}: unclosed ** in {t:?}",
                        g.id
                    );
                    for p in placeholders_in(t) {
                        assert!(
                            screen.placeholders().contains(&p),
                            "{} {screen:?}: unknown placeholder {{{p}}} in {t:?}",
                            g.id
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn copy_field_ids_are_unique_on_a_page_and_labelled() {
        for g in GUIDES {
            for screen in [Screen::Sso, Screen::Provisioning] {
                let Part::Steps { steps, .. } = g.part(screen) else {
                    continue;
                };
                let mut ids = std::collections::HashSet::new();
                for f in steps.iter().flat_map(|s| s.fields.iter()) {
                    assert!(f.id.starts_with("guide-"), "{}: {}", g.id, f.id);
                    assert!(ids.insert(f.id), "{}: duplicate id {}", g.id, f.id);
                    assert!(!f.label.is_empty() && !f.value.is_empty());
                }
            }
        }
    }

    #[test]
    fn only_google_lacks_scim_and_every_idp_has_sso_steps() {
        for g in GUIDES {
            assert!(matches!(g.sso, Part::Steps { .. }), "{}", g.id);
            let supported = matches!(g.provisioning, Part::Steps { .. });
            assert_eq!(supported, g.id != "google", "{}", g.id);
        }
    }

    #[test]
    fn the_jumpcloud_guide_keeps_the_articles_field_names_in_order() {
        let all = |screen| templates(jumpcloud::GUIDE.part(screen)).join("\n");
        let sso = all(Screen::Sso);
        let order = [
            "SSO Applications",
            "Add New Application",
            "Save Application",
            "YOUR_ORG_ID",
            "Download Certificate",
            "SAML 2.0 endpoint (HTTP)",
            "Public certificate",
            "User Groups",
        ];
        let mut at = 0;
        for name in order {
            let i = sso[at..]
                .find(name)
                .unwrap_or_else(|| panic!("{name} missing or out of order"));
            at += i;
        }
        let scim = all(Screen::Provisioning);
        let order = [
            "Generate new token",
            "Confirm",
            "Identity Management",
            "Configure",
            "Base URL",
            "Token Key",
            "Activate",
            "userName",
            "externalId",
        ];
        let mut at = 0;
        for name in order {
            let i = scim[at..]
                .find(name)
                .unwrap_or_else(|| panic!("{name} missing or out of order"));
            at += i;
        }
    }

    #[test]
    fn fill_replaces_known_names_once_and_keeps_the_rest() {
        let v = [("a", "{b}".to_string()), ("b", "x".to_string())];
        assert_eq!(fill("1{a}2{b}3", &v), "1{b}2x3");
        assert_eq!(fill("{zz} and {", &v), "{zz} and {");
        assert_eq!(fill("no braces", &v), "no braces");
        assert_eq!(placeholders_in("{a} {b}c{"), ["a", "b"]);
    }

    #[test]
    fn the_acs_pattern_matches_only_the_url() {
        assert_eq!(
            exact_pattern("https://p.example/saml/o-1/acs"),
            "^https:\\/\\/p\\.example\\/saml\\/o-1\\/acs$"
        );
    }
}
