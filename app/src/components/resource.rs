//! Resources whose hydration data is decoded the way server function responses are.
//!
//! `Resource::new` decodes the value the server rendered into the page with
//! `serde_json::from_str`; server function responses are decoded with `serde_json::from_slice`.
//! Each is a separate copy of every wire type's `Deserialize` code in the wasm bundle. Decoding
//! the page's copy from its bytes instead shares one copy (about 90 KB of release wasm, issue 11).

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;

/// JSON, decoded from bytes like a server function response.
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(val: &T) -> Result<String, Self::Error> {
        serde_json::to_string(val)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(val: &str) -> Result<T, Self::Error> {
        serde_json::from_slice(val.as_bytes())
    }
}

/// A [`Resource`] carried from the server to the page as [`Json`].
pub type JsonResource<T> = Resource<T, Json>;

/// `Resource::new`, with the [`Json`] codec.
#[track_caller]
pub fn resource<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> JsonResource<T>
where
    S: Send + Sync + Clone + PartialEq + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_what_the_server_encodes() {
        let value: Result<Option<Vec<String>>, String> = Ok(Some(vec!["a\"b".into(), "é".into()]));
        let encoded = <Json as Encoder<_>>::encode(&value).expect("encode");
        assert_eq!(encoded, serde_json::to_string(&value).expect("serde_json"));
        let decoded: Result<Option<Vec<String>>, String> =
            <Json as Decoder<_>>::decode(&encoded).expect("decode");
        assert_eq!(decoded, value);
        assert!(<Json as Decoder<Vec<String>>>::decode("not json").is_err());
    }
}
