//! The IAM policy Vault's awskms seal needs, and nothing more.

use serde_json::{Value, json};

/// What Vault calls at start-up (DescribeKey) and on seal/unseal (Encrypt, Decrypt).
pub const VAULT_KMS_ACTIONS: [&str; 3] = ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"];

pub use crate::regions::replica_arn;

/// The ARNs the policy names: the key, then its replica in each of `replica_regions`.
pub fn key_arns(primary_arn: &str, replica_regions: &[String]) -> Vec<String> {
    std::iter::once(primary_arn.to_string())
        .chain(replica_regions.iter().map(|r| replica_arn(primary_arn, r)))
        .collect()
}

/// The document's `Resource`: the one ARN as a string (as it always was), several as a list.
fn resource(key_arns: &[String]) -> Value {
    match key_arns {
        [one] => json!(one),
        many => json!(many),
    }
}

/// The policy document: those three actions on the key and its replicas, each named, no
/// wildcard.
pub fn document(key_arns: &[String]) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "VaultAutoUnsealKms",
            "Effect": "Allow",
            "Action": VAULT_KMS_ACTIONS,
            "Resource": resource(key_arns),
        }]
    })
}

pub fn document_text(key_arns: &[String]) -> String {
    serde_json::to_string_pretty(&document(key_arns)).expect("a json value serialises")
}

/// The same document on one line, as a twin gives it (`--policy-document '{…}'`), so that
/// the twin runs as printed, with no file to make first.
pub fn document_line(key_arns: &[String]) -> String {
    serde_json::to_string(&document(key_arns)).expect("a json value serialises")
}

/// The same document in four lines (one more per replica), for a screen of 80 columns.
/// Every value is serialised by serde_json, so it is exactly the document, only laid out
/// tighter.
pub fn document_compact(key_arns: &[String]) -> String {
    let doc = document(key_arns);
    let st = &doc["Statement"][0];
    let j = |v: &Value| serde_json::to_string(v).expect("a json value serialises");
    let resource = match &st["Resource"] {
        Value::Array(arns) => format!(
            "[\n      {} ]",
            arns.iter().map(j).collect::<Vec<_>>().join(",\n      ")
        ),
        one => j(one),
    };
    format!(
        "{{ \"Version\": {},\n  \"Statement\": [{{ \"Sid\": {}, \"Effect\": {},\n    \"Action\": {},\n    \"Resource\": {resource} }}] }}",
        j(&doc["Version"]),
        j(&st["Sid"]),
        j(&st["Effect"]),
        j(&st["Action"]).replace(',', ", "),
    )
}

/// Checks that a policy document (as IAM returns it) grants exactly the three actions
/// on exactly `key_arns` (the key and its replicas, in any order): one Allow statement, no
/// wildcard, no condition-free extras.
pub fn check_least_privilege(doc: &Value, key_arns: &[String]) -> Result<(), String> {
    let statements = match &doc["Statement"] {
        Value::Array(s) => s.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        _ => return Err("the policy has no Statement".into()),
    };
    if statements.len() != 1 {
        return Err(format!("expected one statement, found {}", statements.len()));
    }
    let st = &statements[0];
    if st["Effect"] != "Allow" {
        return Err("the statement is not an Allow".into());
    }
    if st.get("NotAction").is_some() || st.get("NotResource").is_some() {
        return Err("the statement uses NotAction/NotResource".into());
    }
    let as_list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
            _ => vec![],
        }
    };
    let mut actions = as_list(&st["Action"]);
    actions.sort();
    let mut wanted: Vec<String> = VAULT_KMS_ACTIONS.iter().map(|s| s.to_string()).collect();
    wanted.sort();
    if actions != wanted {
        return Err(format!("actions are {actions:?}, expected {wanted:?}"));
    }
    let mut resources = as_list(&st["Resource"]);
    resources.sort();
    let mut expected = key_arns.to_vec();
    expected.sort();
    if resources != expected {
        return Err(format!(
            "resources are {resources:?}, expected only {}",
            key_arns.join(", ")
        ));
    }
    if doc.to_string().contains('*') {
        return Err("the policy contains a wildcard".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn one() -> Vec<String> {
        vec![ARN.to_string()]
    }

    #[test]
    fn our_document_is_least_privilege() {
        check_least_privilege(&document(&one()), &one()).unwrap();
        let text = document_text(&one());
        assert!(!text.contains('*'));
        let line: Value = serde_json::from_str(&document_line(&one())).unwrap();
        assert_eq!(line, document(&one()));
        assert_eq!(document_line(&one()).lines().count(), 1);
        for action in VAULT_KMS_ACTIONS {
            assert!(text.contains(action));
        }
    }

    #[test]
    fn the_compact_layout_is_the_same_document() {
        let compact: Value = serde_json::from_str(&document_compact(&one())).unwrap();
        assert_eq!(compact, document(&one()));
        assert_eq!(document_compact(&one()).lines().count(), 4);
    }

    #[test]
    fn broader_documents_are_caught() {
        let mut wild = document(&one());
        wild["Statement"][0]["Resource"] = json!("*");
        assert!(check_least_privilege(&wild, &one()).is_err());
        let mut more = document(&one());
        more["Statement"][0]["Action"] = json!([
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:ScheduleKeyDeletion"
        ]);
        assert!(check_least_privilege(&more, &one()).is_err());
        let mut other_key = document(&one());
        other_key["Statement"][0]["Resource"] = json!(ARN.replace("1234abcd", "99999999"));
        assert!(check_least_privilege(&other_key, &one()).is_err());
        let mut kms_star = document(&one());
        kms_star["Statement"][0]["Action"] = json!(["kms:*"]);
        assert!(check_least_privilege(&kms_star, &one()).is_err());
    }

    #[test]
    fn replicas_are_named_one_by_one() {
        let mrk = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd";
        let arns = key_arns(mrk, &["us-west-2".into(), "eu-west-1".into()]);
        assert_eq!(
            arns,
            [
                mrk.to_string(),
                "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd".to_string(),
                "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd".to_string(),
            ]
        );
        let doc = document(&arns);
        assert_eq!(doc["Statement"][0]["Resource"].as_array().unwrap().len(), 3);
        check_least_privilege(&doc, &arns).unwrap();
        // Any order of the same ARNs is the same grant; one replica left out is not.
        let reversed: Vec<String> = arns.iter().rev().cloned().collect();
        check_least_privilege(&doc, &reversed).unwrap();
        assert!(check_least_privilege(&document(&arns[..2]), &arns).is_err());
        assert!(check_least_privilege(&doc, &arns[..2]).is_err());
        let compact: Value = serde_json::from_str(&document_compact(&arns)).unwrap();
        assert_eq!(compact, doc);
        // A single key keeps its document exactly as before: one ARN as a string.
        assert!(document(&arns[..1])["Statement"][0]["Resource"].is_string());
    }
}
