//! The IAM policy Vault's awskms seal needs, and nothing more.

use serde_json::{Value, json};

/// What Vault calls at start-up (DescribeKey) and on seal/unseal (Encrypt, Decrypt).
pub const VAULT_KMS_ACTIONS: [&str; 3] = ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"];

/// The policy document: those three actions on the one key, no wildcard.
pub fn document(key_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "VaultAutoUnsealKms",
            "Effect": "Allow",
            "Action": VAULT_KMS_ACTIONS,
            "Resource": key_arn,
        }]
    })
}

pub fn document_text(key_arn: &str) -> String {
    serde_json::to_string_pretty(&document(key_arn)).expect("a json value serialises")
}

/// The same document on one line, as a twin gives it (`--policy-document '{…}'`), so that
/// the twin runs as printed, with no file to make first.
pub fn document_line(key_arn: &str) -> String {
    serde_json::to_string(&document(key_arn)).expect("a json value serialises")
}

/// The same document in four lines, for a screen of 80 columns. Every value is
/// serialised by serde_json, so it is exactly the document, only laid out tighter.
pub fn document_compact(key_arn: &str) -> String {
    let doc = document(key_arn);
    let st = &doc["Statement"][0];
    let j = |v: &Value| serde_json::to_string(v).expect("a json value serialises");
    format!(
        "{{ \"Version\": {},\n  \"Statement\": [{{ \"Sid\": {}, \"Effect\": {},\n    \"Action\": {},\n    \"Resource\": {} }}] }}",
        j(&doc["Version"]),
        j(&st["Sid"]),
        j(&st["Effect"]),
        j(&st["Action"]).replace(',', ", "),
        j(&st["Resource"])
    )
}

/// Checks that a policy document (as IAM returns it) grants exactly the three actions
/// on exactly `key_arn`: one Allow statement, no wildcard, no condition-free extras.
pub fn check_least_privilege(doc: &Value, key_arn: &str) -> Result<(), String> {
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
    let resources = as_list(&st["Resource"]);
    if resources != [key_arn] {
        return Err(format!("resources are {resources:?}, expected only {key_arn}"));
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

    #[test]
    fn our_document_is_least_privilege() {
        check_least_privilege(&document(ARN), ARN).unwrap();
        let text = document_text(ARN);
        assert!(!text.contains('*'));
        let line: Value = serde_json::from_str(&document_line(ARN)).unwrap();
        assert_eq!(line, document(ARN));
        assert_eq!(document_line(ARN).lines().count(), 1);
        for action in VAULT_KMS_ACTIONS {
            assert!(text.contains(action));
        }
    }

    #[test]
    fn the_compact_layout_is_the_same_document() {
        let compact: Value = serde_json::from_str(&document_compact(ARN)).unwrap();
        assert_eq!(compact, document(ARN));
        assert_eq!(document_compact(ARN).lines().count(), 4);
    }

    #[test]
    fn broader_documents_are_caught() {
        let mut wild = document(ARN);
        wild["Statement"][0]["Resource"] = json!("*");
        assert!(check_least_privilege(&wild, ARN).is_err());
        let mut more = document(ARN);
        more["Statement"][0]["Action"] = json!([
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:ScheduleKeyDeletion"
        ]);
        assert!(check_least_privilege(&more, ARN).is_err());
        let mut other_key = document(ARN);
        other_key["Statement"][0]["Resource"] = json!(ARN.replace("1234abcd", "99999999"));
        assert!(check_least_privilege(&other_key, ARN).is_err());
        let mut kms_star = document(ARN);
        kms_star["Statement"][0]["Action"] = json!(["kms:*"]);
        assert!(check_least_privilege(&kms_star, ARN).is_err());
    }
}
