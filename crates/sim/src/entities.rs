//! Realistic `entityData` for each kind of entity the simulated installation moves: Magento 2
//! orders, Shopify products, Exact Online invoices and Salesforce accounts.

use serde_json::{Value, json};

use crate::seeded::SeededRng;

/// An entity made for a task: its identifier and its data.
pub(crate) struct Entity {
    /// The `entityIdentifier`.
    pub(crate) identifier: String,
    /// The `entityData` object.
    pub(crate) data: Value,
}

const FIRST_NAMES: &[&str] = &[
    "Sanne", "Daan", "Emma", "Lucas", "Julia", "Sem", "Tess", "Noah", "Lotte", "Finn", "Anna",
    "Milan",
];
const LAST_NAMES: &[&str] = &[
    "de Vries",
    "Jansen",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
];
/// Street, postcode, city and country code.
const ADDRESSES: &[(&str, &str, &str, &str)] = &[
    ("Keizersgracht", "1015 CJ", "Amsterdam", "NL"),
    ("Coolsingel", "3011 AD", "Rotterdam", "NL"),
    ("Oudegracht", "3511 AP", "Utrecht", "NL"),
    ("Stratumseind", "5611 ER", "Eindhoven", "NL"),
    ("Vismarkt", "9712 CB", "Groningen", "NL"),
    ("Meir", "2000", "Antwerpen", "BE"),
    ("Korenmarkt", "9000", "Gent", "BE"),
    ("Königsallee", "40212", "Düsseldorf", "DE"),
];
const COMPANIES: &[&str] = &[
    "Bakker Interieur B.V.",
    "Van Dijk Logistics",
    "Noordzee Retail Group",
    "Hendriks & Zonen",
    "Studio Verhoef",
    "De Groene Winkel",
];
/// SKU, name, price in cents, product type and vendor.
const PRODUCTS: &[(&str, &str, u64, &str, &str)] = &[
    (
        "OAK-TBL-180",
        "Oak dining table 180 cm",
        64_900,
        "Tables",
        "Nordhout",
    ),
    (
        "LIN-CUS-45-SND",
        "Linen cushion cover 45x45 sand",
        2_495,
        "Textiles",
        "Linnenhuys",
    ),
    (
        "CER-VAS-M-BLU",
        "Ceramic vase medium blue",
        3_950,
        "Decoration",
        "Klei & Co",
    ),
    (
        "WOL-PLD-130",
        "Wool throw 130x170 grey",
        8_900,
        "Textiles",
        "Linnenhuys",
    ),
    (
        "RTN-CHR-NAT",
        "Rattan chair natural",
        21_900,
        "Chairs",
        "Nordhout",
    ),
    (
        "BRS-LMP-TBL",
        "Brass table lamp",
        12_450,
        "Lighting",
        "Lichtwerk",
    ),
    (
        "JUT-RUG-200",
        "Jute rug 200x300",
        27_500,
        "Rugs",
        "Vloerkleed.nl",
    ),
    (
        "GLS-CRF-1L",
        "Glass carafe 1 l",
        1_895,
        "Kitchen",
        "Klei & Co",
    ),
];

/// Euros from cents, as the number a shop's API sends.
fn euros(cents: u64) -> f64 {
    cents as f64 / 100.0
}

fn hex(rng: &mut SeededRng, digits: usize) -> String {
    let value = rng.next_u64();
    format!("{value:016x}")[..digits.min(16)].to_owned()
}

/// A GUID, as Exact Online and Alumio correlation ids look.
pub(crate) fn guid(rng: &mut SeededRng) -> String {
    format!(
        "{}-{}-4{}-a{}-{}{}",
        hex(rng, 8),
        hex(rng, 4),
        hex(rng, 3),
        hex(rng, 3),
        hex(rng, 8),
        hex(rng, 4)
    )
}

fn person(rng: &mut SeededRng) -> (&'static str, &'static str, String) {
    let first = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(LAST_NAMES);
    let email = format!(
        "{}.{}@example.com",
        first.to_lowercase(),
        last.replace(' ', "").to_lowercase()
    );
    (first, last, email)
}

fn magento_address(rng: &mut SeededRng, first: &str, last: &str) -> Value {
    let (street, postcode, city, country) = *rng.pick(ADDRESSES);
    json!({
        "firstname": first,
        "lastname": last,
        "street": [format!("{street} {}", rng.between(1, 240))],
        "postcode": postcode,
        "city": city,
        "country_id": country,
        "telephone": format!("+31 6 {:08}", rng.below(100_000_000)),
    })
}

/// A Magento 2 sales order; the free text goes in `customer_note`.
pub(crate) fn magento2_order(rng: &mut SeededRng) -> Entity {
    let number = rng.between(10_000, 99_999);
    let (first, last, email) = person(rng);
    let mut subtotal = 0;
    let items: Vec<Value> = (0..rng.between(1, 3))
        .map(|_| {
            let (sku, name, price, _, _) = *rng.pick(PRODUCTS);
            let quantity = rng.between(1, 3);
            subtotal += price * quantity;
            json!({
                "sku": sku,
                "name": name,
                "qty_ordered": quantity,
                "price": euros(price),
                "row_total": euros(price * quantity),
                "tax_percent": 21,
            })
        })
        .collect();
    let shipping = if subtotal > 7_500 { 0 } else { 495 };
    let tax = (subtotal + shipping) * 21 / 121;
    Entity {
        identifier: format!("0000{number}"),
        data: json!({
            "entity_id": number,
            "increment_id": format!("0000{number}"),
            "state": "processing",
            "status": "processing",
            "store_id": 1,
            "order_currency_code": "EUR",
            "customer": {"email": email, "firstname": first, "lastname": last, "group_id": 1},
            "billing_address": magento_address(rng, first, last),
            "shipping_address": magento_address(rng, first, last),
            "items": items,
            "payment": {"method": *rng.pick(&["mollie_methods_ideal", "mollie_methods_creditcard", "checkmo"])},
            "shipping_method": "postnl_regular",
            "totals": {
                "subtotal": euros(subtotal),
                "shipping_amount": euros(shipping),
                "tax_amount": euros(tax),
                "grand_total": euros(subtotal + shipping),
            },
            "customer_note": "",
        }),
    }
}

/// A Shopify product with its variants; the free text goes in `body_html`.
pub(crate) fn shopify_product(rng: &mut SeededRng) -> Entity {
    let id = 7_000_000_000_000 + rng.below(999_999_999_999);
    let (sku, name, price, product_type, vendor) = *rng.pick(PRODUCTS);
    let handle = name.to_lowercase().replace(' ', "-");
    let colours = ["Natural", "Smoked", "Sand", "Black"];
    let variants: Vec<Value> = colours[..usize::try_from(rng.between(1, 3)).unwrap_or(1)]
        .iter()
        .enumerate()
        .map(|(position, colour)| {
            json!({
                "id": 40_000_000_000_000 + rng.below(9_999_999_999),
                "sku": format!("{sku}-{}", colour[..3].to_uppercase()),
                "price": format!("{:.2}", euros(price)),
                "inventory_quantity": rng.below(60),
                "option1": colour,
                "position": position + 1,
                "barcode": format!("87{:011}", rng.below(100_000_000_000)),
            })
        })
        .collect();
    Entity {
        identifier: id.to_string(),
        data: json!({
            "id": id,
            "title": name,
            "handle": handle,
            "vendor": vendor,
            "product_type": product_type,
            "status": "active",
            "tags": format!("{}, {}, new-collection", product_type.to_lowercase(), vendor.to_lowercase()),
            "variants": variants,
            "options": [{"name": "Colour", "position": 1}],
            "images": [{"position": 1, "src": format!("https://cdn.example.com/products/{handle}-1.jpg")}],
            "body_html": "",
        }),
    }
}

/// An Exact Online sales invoice; the free text goes in `Remarks`.
pub(crate) fn exact_online_invoice(rng: &mut SeededRng) -> Entity {
    let number = 24_000_000 + rng.below(999_999);
    let mut net = 0;
    let lines: Vec<Value> = (1..=rng.between(1, 3))
        .map(|line| {
            let (code, name, price, _, _) = *rng.pick(PRODUCTS);
            let quantity = rng.between(1, 12);
            net += price * quantity;
            json!({
                "LineNumber": line,
                "ItemCode": code,
                "Description": name,
                "Quantity": quantity,
                "UnitPrice": euros(price),
                "AmountDC": euros(price * quantity),
                "VATCode": "2",
            })
        })
        .collect();
    let vat = net * 21 / 100;
    Entity {
        identifier: number.to_string(),
        data: json!({
            "InvoiceID": guid(rng),
            "InvoiceNumber": number,
            "OrderedBy": guid(rng),
            "OrderedByName": *rng.pick(COMPANIES),
            "Currency": "EUR",
            "AmountDC": euros(net + vat),
            "VATAmountDC": euros(vat),
            "Journal": "70",
            "PaymentCondition": "30",
            "YourRef": format!("PO-2024-{:04}", rng.below(10_000)),
            "Status": 50,
            "InvoiceLines": lines,
            "Remarks": "",
        }),
    }
}

/// A Salesforce account; the free text goes in `Description`.
pub(crate) fn salesforce_account(rng: &mut SeededRng) -> Entity {
    let id = format!("0015g00000{}", &hex(rng, 8)[..5].to_uppercase());
    let (street, postcode, city, country) = *rng.pick(ADDRESSES);
    let company = *rng.pick(COMPANIES);
    let (first, last, email) = person(rng);
    Entity {
        identifier: id.clone(),
        data: json!({
            "attributes": {"type": "Account", "url": format!("/services/data/v60.0/sobjects/Account/{id}")},
            "Id": id,
            "Name": company,
            "Type": *rng.pick(&["Customer - Direct", "Customer - Channel", "Prospect"]),
            "Industry": "Retail",
            "BillingStreet": format!("{street} {}", rng.between(1, 240)),
            "BillingPostalCode": postcode,
            "BillingCity": city,
            "BillingCountry": country,
            "Phone": format!("+31 20 {:07}", rng.below(10_000_000)),
            "Website": "https://www.example.com",
            "NumberOfEmployees": rng.between(5, 800),
            "AnnualRevenue": rng.between(2, 400) * 100_000,
            "PrimaryContact": {"FirstName": first, "LastName": last, "Email": email},
            "Description": "",
        }),
    }
}

/// Plausible free text of exactly `length` bytes, for the property that brings a document to
/// its target size.
pub(crate) fn free_text(rng: &mut SeededRng, length: usize) -> String {
    const SENTENCES: &[&str] = &[
        "Please deliver between 9:00 and 17:00 on weekdays.",
        "Leave the parcel at the reception desk if nobody answers.",
        "Customer asked for the invoice to be sent to the finance department.",
        "Crafted from FSC-certified wood and finished with natural oil.",
        "Part of a combined shipment; see the related purchase order.",
        "Wipe clean with a damp cloth and avoid direct sunlight.",
        "Imported from the legacy system during the 2023 migration.",
        "Prices include 21% VAT unless stated otherwise.",
    ];
    let mut text = String::with_capacity(length + 80);
    while text.len() < length {
        if !text.is_empty() {
            text.push(' ');
        }
        let sentence: &&str = rng.pick(SENTENCES);
        text.push_str(sentence);
    }
    // Every sentence is ASCII, so any byte length is a character boundary.
    text.truncate(length);
    text
}
