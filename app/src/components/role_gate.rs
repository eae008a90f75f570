//! Controls shown only to the roles that may use them. The server refuses the rest anyway
//! (`app::ssr::require`); this keeps Viewers from seeing buttons that would only say no.

use leptos::prelude::*;

use crate::dto::{AdminRole, Need};
use crate::routes::admin::AdminResource;

/// The signed-in admin's role, once the admin shell has loaded it.
pub fn current_role() -> Signal<Option<AdminRole>> {
    let admin = use_context::<AdminResource>();
    Signal::derive(move || {
        admin
            .and_then(|a| a.0.get())
            .and_then(|r| r.ok())
            .flatten()
            .map(|v| v.role)
    })
}

/// Renders `children` only for a role that allows `needs`.
#[component]
pub fn IfCan(needs: Need, children: ChildrenFn) -> impl IntoView {
    let role = current_role();
    view! {
        <Suspense>
            {move || role.get().filter(|r| r.allows(needs)).map(|_| children())}
        </Suspense>
    }
}

/// A line telling a role that cannot change this screen that it is read-only, and why.
#[component]
pub fn ReadOnlyNotice(needs: Need) -> impl IntoView {
    let role = current_role();
    view! {
        <Suspense>
            {move || {
                role.get()
                    .filter(|r| !r.allows(needs))
                    .map(|r| {
                        let who = match needs {
                            Need::Manage => "Owners and Admins",
                            Need::Own => "Owners",
                        };
                        view! {
                            <p class="alert info" role="note" data-testid="read-only">
                                {format!("You have read-only access here (your role: {}). Only {who} can make changes.", r.label())}
                            </p>
                        }
                    })
            }}
        </Suspense>
    }
}
