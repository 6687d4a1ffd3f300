//! The customer managed KMS keys of a region, by alias, for the operator to choose from.

use crate::aws::context::AwsContext;
use crate::aws::error::classify;
use crate::run::Result;

/// How many aliases one ListAliases page asks for (KMS allows 1 to 100).
pub const PAGE_SIZE: i32 = 100;

/// An alias of a customer managed key, and the key it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAlias {
    pub alias: String,
    pub key_id: String,
}

/// Every alias of the region that names a customer managed key, through all pages:
/// AWS managed keys (`alias/aws/…`) cannot let Vault's user in, and aliases naming no
/// key name nothing to choose.
pub async fn key_aliases(ctx: &AwsContext, page_size: i32) -> Result<Vec<KeyAlias>> {
    let mut pages = ctx.kms.list_aliases().limit(page_size).into_paginator().items().send();
    let mut found = Vec::new();
    while let Some(entry) = pages.next().await {
        let entry = entry.map_err(|e| classify("kms:ListAliases", &ctx.endpoint(), e))?;
        if let (Some(alias), Some(key_id)) = (entry.alias_name(), entry.target_key_id())
            && !alias.starts_with("alias/aws/")
        {
            found.push(KeyAlias {
                alias: alias.to_string(),
                key_id: key_id.to_string(),
            });
        }
    }
    Ok(found)
}
