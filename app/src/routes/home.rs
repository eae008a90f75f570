use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn Home() -> impl IntoView {
    view! {
        <Title text="Identity portal" />
        <main class="centered">
            <div class="card narrow">
                <h1>"Identity portal"</h1>
                <p>"Single sign-on and user provisioning for your organisation."</p>
                <ul class="links">
                    <li>
                        <a href="/login">"Employee sign-in"</a>
                    </li>
                    <li>
                        <a href="/admin/login">"Administrator sign-in"</a>
                    </li>
                </ul>
            </div>
        </main>
    }
}
