//! The integration flows the simulated installation runs: for each kind of entity, the incoming
//! and outgoing configurations and the route that move it, and how its entity data is made.

use alumio_models::{TaskMetaDataItem, TaskStatus};
use serde_json::{Value, json};

use crate::entities::{self, Entity};
use crate::seeded::SeededRng;

/// A configuration item: identifier and display name.
type Item = (&'static str, &'static str);

/// One flow of tasks through the installation.
pub(crate) struct Flow {
    /// The `entityType` of its tasks.
    pub(crate) entity_type: &'static str,
    /// The property of the entity data that carries free text, used to reach the target size.
    pub(crate) free_text_property: &'static str,
    /// How its entities are made.
    pub(crate) make_entity: fn(&mut SeededRng) -> Entity,
    /// How the task entered: a webhook, a schedule...
    pub(crate) trigger: &'static str,
    /// The transformer the route applies.
    pub(crate) transformer: &'static str,
    incoming: Item,
    outgoing: Item,
    route: Item,
}

/// The flows, and how often each one makes a task (out of the sum of the weights).
pub(crate) static FLOWS: [(Flow, u64); 4] = [
    (
        Flow {
            entity_type: "magento2-order",
            free_text_property: "customer_note",
            make_entity: entities::magento2_order,
            trigger: "webhook",
            transformer: "magento2-order-to-exact-sales-order",
            incoming: ("magento2-order-webhook", "Magento 2 order webhook"),
            outgoing: (
                "exact-online-sales-order",
                "Exact Online: create sales order",
            ),
            route: (
                "magento2-orders-to-exact-online",
                "Magento 2 orders to Exact Online",
            ),
        },
        40,
    ),
    (
        Flow {
            entity_type: "shopify-product",
            free_text_property: "body_html",
            make_entity: entities::shopify_product,
            trigger: "schedule",
            transformer: "shopify-product-to-bol-offer",
            incoming: (
                "shopify-product-poller",
                "Shopify products (every 5 minutes)",
            ),
            outgoing: ("bol-com-offer-publisher", "bol.com: publish offer"),
            route: ("shopify-products-to-bol-com", "Shopify products to bol.com"),
        },
        25,
    ),
    (
        Flow {
            entity_type: "exact-online-invoice",
            free_text_property: "Remarks",
            make_entity: entities::exact_online_invoice,
            trigger: "subscription",
            transformer: "exact-invoice-to-salesforce-invoice",
            incoming: (
                "exact-online-invoice-subscriber",
                "Exact Online invoice subscription",
            ),
            outgoing: ("salesforce-invoice-upsert", "Salesforce: upsert invoice"),
            route: (
                "exact-online-invoices-to-salesforce",
                "Exact Online invoices to Salesforce",
            ),
        },
        20,
    ),
    (
        Flow {
            entity_type: "salesforce-account",
            free_text_property: "Description",
            make_entity: entities::salesforce_account,
            trigger: "schedule",
            transformer: "salesforce-account-to-hubspot-company",
            incoming: ("salesforce-account-poller", "Salesforce accounts (hourly)"),
            outgoing: ("hubspot-company-upsert", "HubSpot: upsert company"),
            route: (
                "salesforce-accounts-to-hubspot",
                "Salesforce accounts to HubSpot",
            ),
        },
        15,
    ),
];

const HTTP_PROXY: Item = ("corporate-egress-proxy", "Corporate egress proxy");

fn meta_item((identifier, name): Item) -> TaskMetaDataItem {
    TaskMetaDataItem {
        identifier: Some(identifier.to_owned()),
        name: Some(name.to_owned()),
        ..TaskMetaDataItem::default()
    }
}

impl Flow {
    /// A flow chosen by weight.
    pub(crate) fn pick(rng: &mut SeededRng) -> &'static Flow {
        let weights: [u64; 4] = std::array::from_fn(|index| FLOWS[index].1);
        &FLOWS[rng.weighted(&weights)].0
    }

    /// The route identifier of its tasks.
    pub(crate) fn route_identifier(&self) -> &'static str {
        self.route.0
    }

    /// The incoming, outgoing and route items of the task's `meta`, and the HTTP proxy when the
    /// task went through one.
    pub(crate) fn meta_items(&self, through_proxy: bool) -> [Option<TaskMetaDataItem>; 4] {
        [
            Some(meta_item(self.incoming)),
            Some(meta_item(self.outgoing)),
            Some(meta_item(self.route)),
            through_proxy.then(|| meta_item(HTTP_PROXY)),
        ]
    }

    /// The task's `context` when it has `status` after `attempts` runs of the route.
    pub(crate) fn context(
        &self,
        correlation_id: &str,
        status: &TaskStatus,
        attempts: usize,
    ) -> Value {
        let mut context = json!({
            "trigger": self.trigger,
            "correlationId": correlation_id,
            "transformer": self.transformer,
            "attempt": attempts,
        });
        let outcome = match status {
            TaskStatus::Failed | TaskStatus::Resolved => Some((
                "error",
                json!({"code": 422, "message": "The remote system rejected the entity: a required field is missing"}),
            )),
            TaskStatus::Skipped => Some((
                "skipReason",
                json!("The entity did not match the route's filter"),
            )),
            TaskStatus::Killed => Some(("killedBy", json!("operator@example.com"))),
            TaskStatus::Retry => Some(("retryReason", json!("The remote system answered 503"))),
            _ => None,
        };
        if let (Some((key, value)), Some(object)) = (outcome, context.as_object_mut()) {
            object.insert(key.to_owned(), value);
        }
        context
    }
}
