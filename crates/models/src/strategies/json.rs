//! JSON strategies: text, numbers that survive serde_json exactly, arbitrary values and
//! objects, deep chains, and realistic order entities.

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

/// Strings that need escaping or look like something else.
const TRICKY_TEXT: &[&str] = &[
    "",
    "\"",
    "\\",
    "</script>",
    "\u{2028}\u{2029}",
    "\u{0}\u{1f}\u{7f}",
    "𝄞 émoji 🎉",
    "null",
    "{}",
    "\u{feff}BOM",
];

/// JSON string content: mostly plain, sometimes any Unicode, control characters or text that
/// needs escaping.
pub fn json_text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[A-Za-z0-9 ._-]{0,16}",
        2 => "\\PC{0,16}",
        1 => vec(any::<char>(), 0..12).prop_map(String::from_iter),
        1 => select(TRICKY_TEXT).prop_map(str::to_owned),
    ]
    .boxed()
}

fn exact_through_text(number: f64) -> bool {
    let text = serde_json::to_string(&number).ok();
    number.is_finite()
        && text.and_then(|text| serde_json::from_str::<f64>(&text).ok()) == Some(number)
}

/// Finite `f64` values that serde_json writes and reads back as the same number: prices, any
/// bit pattern, extremes and subnormals. (serde_json's default parser may be off by one ulp for
/// some inputs, so each value is checked.)
pub fn exact_f64() -> BoxedStrategy<f64> {
    let extremes = [
        0.0,
        -0.0,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        5e-324,
        0.1,
    ];
    prop_oneof![
        2 => (-10_000_000_i64..10_000_000).prop_map(|cents| cents as f64 / 100.0),
        2 => any::<f64>(),
        1 => select(extremes.to_vec()),
    ]
    .prop_filter("finite and exact through JSON text", |number| {
        exact_through_text(*number)
    })
    .boxed()
}

pub(super) fn json_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => exact_f64().prop_map(Value::from),
        2 => json_text().prop_map(Value::String),
    ]
    .boxed()
}

/// An object key: a realistic name, sometimes any text.
fn json_key() -> BoxedStrategy<String> {
    prop_oneof![
        2 => select(&["id", "sku", "qty", "price", "name", "email", "items", "address"][..])
            .prop_map(str::to_owned),
        2 => json_text(),
    ]
    .boxed()
}

fn json_map(
    value: impl Strategy<Value = Value>,
    size: std::ops::Range<usize>,
) -> impl Strategy<Value = Map<String, Value>> {
    btree_map(json_key(), value, size).prop_map(|entries| entries.into_iter().collect())
}

/// Any JSON value nested at most `depth` arrays or objects deep: mostly small bushy trees,
/// sometimes a single chain of up to `depth` levels. Numbers are integers across the whole
/// `i64`/`u64` range or floats from [`exact_f64`]. Keep `depth` under about 100 so a document
/// holding the value stays within serde_json's parser limit of 128 levels.
pub fn json_value(depth: u32) -> BoxedStrategy<Value> {
    let tree = json_leaf().prop_recursive(depth, 48, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            json_map(inner, 0..5).prop_map(Value::Object),
        ]
    });
    prop_oneof![6 => tree, 1 => nested_chain(json_leaf(), 0..=depth as usize)].boxed()
}

/// `leaf` wrapped in a chain of single-entry arrays and objects, as many levels as `levels`.
pub(super) fn nested_chain(
    leaf: impl Strategy<Value = Value>,
    levels: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Value> {
    (leaf, vec(option::of(json_key()), levels)).prop_map(|(leaf, links)| {
        links.into_iter().fold(leaf, |inner, link| match link {
            Some(key) => Value::Object(Map::from_iter([(key, inner)])),
            None => Value::Array(vec![inner]),
        })
    })
}

/// A JSON object whose values are nested at most `depth` levels below it.
pub fn json_object(depth: u32) -> BoxedStrategy<Value> {
    json_map(json_value(depth.saturating_sub(1)), 0..6)
        .prop_map(Value::Object)
        .boxed()
}

/// A Magento-style sales order, the kind of entity most tasks carry.
pub fn order_entity() -> BoxedStrategy<Value> {
    let line = (
        "[A-Z]{2,4}-[0-9]{3,6}",
        "[A-Z][a-z]{2,10}( [a-z]{3,8}){0,3}",
        1_u32..20,
        1_i64..50_000,
    );
    let address = (
        "[A-Z][a-z]{2,9}",
        "[A-Z][a-z]{2,12}",
        "[A-Z][a-z]{3,10}straat [0-9]{1,3}",
        "[0-9]{4} [A-Z]{2}",
    );
    (
        1_u64..100_000_000,
        "[a-z]{3,8}\\.[a-z]{3,8}@example\\.(com|nl|de)",
        vec(line, 1..6),
        address,
        select(&["EUR", "USD", "GBP"][..]),
        select(&["pending", "processing", "complete", "canceled", "holded"][..]),
    )
        .prop_map(|(increment, email, lines, address, currency, state)| {
            let subtotal_cents: i64 = lines.iter().map(|line| i64::from(line.2) * line.3).sum();
            let items: Vec<Value> = lines
                .into_iter()
                .enumerate()
                .map(|(index, (sku, name, qty, cents))| {
                    json!({"item_id": index + 1, "sku": sku, "name": name, "qty_ordered": qty,
                           "price": cents as f64 / 100.0, "product_type": "simple"})
                })
                .collect();
            let (firstname, lastname, street, postcode) = address;
            json!({
                "entity_id": increment,
                "increment_id": format!("{increment:09}"),
                "state": state,
                "order_currency_code": currency,
                "customer_email": email,
                "customer_is_guest": false,
                "subtotal": subtotal_cents as f64 / 100.0,
                "items": items,
                "billing_address": {
                    "firstname": firstname, "lastname": lastname, "street": [street],
                    "postcode": postcode, "city": "Groningen", "country_id": "NL", "telephone": null
                }
            })
        })
        .boxed()
}
