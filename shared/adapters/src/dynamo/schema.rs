//! The table and its indexes (docs/table-design.md, "Keys and indexes").

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, LocalSecondaryIndex,
    Projection, ProjectionType, ScalarAttributeType,
};
use domain::ports::StoreError;

use super::DynamoStore;
use super::errors::backend;

impl DynamoStore {
    /// Creates the table with its indexes unless it exists (local stack and tests; on AWS the
    /// SAM template owns the table).
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        let exists = self.client.describe_table().table_name(&self.table).send().await;
        if exists.is_ok() {
            return Ok(());
        }
        let attr = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
        };
        let key =
            |name: &str, kt: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kt).build();
        let all = Projection::builder().projection_type(ProjectionType::All).build();
        let mut req = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash).map_err(backend("CreateTable"))?)
            .key_schema(key("sk", KeyType::Range).map_err(backend("CreateTable"))?);
        for a in ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "lsi1sk"] {
            req = req.attribute_definitions(attr(a).map_err(backend("CreateTable"))?);
        }
        for i in 1..=3 {
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(format!("gsi{i}"))
                    .key_schema(key(&format!("gsi{i}pk"), KeyType::Hash).map_err(backend("CreateTable"))?)
                    .key_schema(key(&format!("gsi{i}sk"), KeyType::Range).map_err(backend("CreateTable"))?)
                    .projection(all.clone())
                    .build()
                    .map_err(backend("CreateTable"))?,
            );
        }
        req = req.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("lsi1")
                .key_schema(key("pk", KeyType::Hash).map_err(backend("CreateTable"))?)
                .key_schema(key("lsi1sk", KeyType::Range).map_err(backend("CreateTable"))?)
                .projection(all)
                .build()
                .map_err(backend("CreateTable"))?,
        );
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().map(|se| se.is_resource_in_use_exception()) == Some(true) => {
                Ok(())
            }
            Err(e) => Err(backend("CreateTable")(e)),
        }
    }
}
