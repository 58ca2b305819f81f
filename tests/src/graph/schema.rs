//! Microsoft Graph v1.0's metadata (CSDL), read into what a JSON body may hold: each entity and
//! complex type's properties (with those of its base types) and their types, each enum's
//! members, and the parameters of bound actions. [`Csdl::check`] holds a body to its type:
//! every property must exist on the type (OData annotations aside) and carry a value of its
//! type, recursively; a property the type does not have is refused.

use std::collections::HashMap;
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde_json::Value;

/// One property.
#[derive(Debug, Clone)]
struct Property {
    ty: String,
    nullable: bool,
}

/// An entity or complex type.
#[derive(Debug, Clone, Default)]
struct StructType {
    base: Option<String>,
    properties: HashMap<String, Property>,
}

/// An action being read: its name, its binding type, its other parameters.
type ActionInProgress = (String, Option<String>, Vec<(String, Property)>);

/// The metadata.
#[derive(Debug, Default)]
pub struct Csdl {
    types: HashMap<String, StructType>,
    enums: HashMap<String, Vec<String>>,
    /// (action, binding type) → parameters other than the binding one.
    actions: HashMap<(String, String), Vec<(String, Property)>>,
}

fn attribute(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .map(|a| a.value.to_string())
}

impl Csdl {
    /// Reads `v1.0-Prod.csdl`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text)
    }

    /// Parses CSDL text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut reader = Reader::from_str(text);
        let mut csdl = Csdl::default();
        let mut current: Option<(String, StructType)> = None;
        let mut current_enum: Option<(String, Vec<String>)> = None;
        let mut current_action: Option<ActionInProgress> = None;
        // Types are named as their schema's alias names them (`graph.user`; another schema's
        // `self.user` is another type).
        let mut prefix = String::from("graph");
        loop {
            let event = reader.read_event().map_err(|e| format!("CSDL: {e}"))?;
            let (element, is_start) = match &event {
                Event::Start(e) => (Some(e.clone()), true),
                Event::Empty(e) => (Some(e.clone()), false),
                Event::End(e) => {
                    match e.local_name().as_ref() {
                        "EntityType" | "ComplexType" => {
                            if let Some((name, ty)) = current.take() {
                                csdl.types.insert(name, ty);
                            }
                        }
                        "EnumType" => {
                            if let Some((name, members)) = current_enum.take() {
                                csdl.enums.insert(name, members);
                            }
                        }
                        "Action" => {
                            if let Some((name, Some(binding), parameters)) = current_action.take() {
                                csdl.actions.insert((name, binding), parameters);
                            }
                        }
                        _ => {}
                    }
                    (None, false)
                }
                Event::Eof => break,
                _ => (None, false),
            };
            let Some(element) = element else { continue };
            let local = element.local_name().as_ref().to_owned();
            match local.as_str() {
                "Schema" => {
                    prefix = attribute(&element, "Alias")
                        .or_else(|| attribute(&element, "Namespace"))
                        .unwrap_or_default();
                }
                "EntityType" | "ComplexType" => {
                    let name = format!(
                        "{prefix}.{}",
                        attribute(&element, "Name").unwrap_or_default()
                    );
                    let ty = StructType {
                        base: attribute(&element, "BaseType"),
                        properties: HashMap::new(),
                    };
                    if is_start {
                        current = Some((name, ty));
                    } else {
                        csdl.types.insert(name, ty);
                    }
                }
                "Property" | "NavigationProperty" => {
                    if let (Some((_, ty)), Some(name), Some(property_type)) = (
                        current.as_mut(),
                        attribute(&element, "Name"),
                        attribute(&element, "Type"),
                    ) {
                        ty.properties.insert(
                            name,
                            Property {
                                ty: property_type,
                                nullable: attribute(&element, "Nullable").as_deref()
                                    != Some("false"),
                            },
                        );
                    }
                }
                "EnumType" if is_start => {
                    current_enum = Some((
                        format!(
                            "{prefix}.{}",
                            attribute(&element, "Name").unwrap_or_default()
                        ),
                        Vec::new(),
                    ));
                }
                "Member" => {
                    if let (Some((_, members)), Some(name)) =
                        (current_enum.as_mut(), attribute(&element, "Name"))
                    {
                        members.push(name);
                    }
                }
                "Action" if is_start => {
                    current_action = Some((
                        attribute(&element, "Name").unwrap_or_default(),
                        None,
                        Vec::new(),
                    ));
                }
                "Parameter" => {
                    if let (Some((_, binding, parameters)), Some(name), Some(ty)) = (
                        current_action.as_mut(),
                        attribute(&element, "Name"),
                        attribute(&element, "Type"),
                    ) {
                        if name == "bindingParameter" {
                            *binding = Some(ty);
                        } else {
                            parameters.push((
                                name,
                                Property {
                                    nullable: attribute(&element, "Nullable").as_deref()
                                        != Some("false"),
                                    ty,
                                },
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        if csdl.types.is_empty() {
            return Err("CSDL: no types found".into());
        }
        Ok(csdl)
    }

    fn property(&self, ty: &str, name: &str) -> Option<&Property> {
        let mut current = self.types.get(ty);
        while let Some(t) = current {
            if let Some(p) = t.properties.get(name) {
                return Some(p);
            }
            current = t.base.as_deref().and_then(|b| self.types.get(b));
        }
        None
    }

    /// Problems of `value` as a `ty` (`graph.user`, `Collection(graph.assignedLicense)`,
    /// `Edm.Guid`), each naming its JSON path; empty when it conforms.
    pub fn check(&self, value: &Value, ty: &str) -> Vec<String> {
        let mut problems = Vec::new();
        self.check_at(value, ty, true, "$", &mut problems);
        problems
    }

    fn check_at(
        &self,
        value: &Value,
        ty: &str,
        nullable: bool,
        at: &str,
        problems: &mut Vec<String>,
    ) {
        if value.is_null() {
            if !nullable {
                problems.push(format!("{at}: null where {ty} may not be null"));
            }
            return;
        }
        if let Some(inner) = ty
            .strip_prefix("Collection(")
            .and_then(|t| t.strip_suffix(')'))
        {
            match value.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check_at(item, inner, false, &format!("{at}[{i}]"), problems);
                    }
                }
                None => problems.push(format!("{at}: {value} is not an array of {inner}")),
            }
            return;
        }
        let fits = match ty {
            "Edm.String" | "Edm.DateTimeOffset" | "Edm.Date" | "Edm.Duration" | "Edm.TimeOfDay"
            | "Edm.Binary" => value.is_string(),
            "Edm.Guid" => value.as_str().is_some_and(is_guid),
            "Edm.Boolean" => value.is_boolean(),
            "Edm.Int32" | "Edm.Int64" | "Edm.Int16" | "Edm.Byte" => {
                value.is_i64() || value.is_u64()
            }
            "Edm.Double" | "Edm.Single" | "Edm.Decimal" => value.is_number(),
            _ => {
                if let Some(members) = self.enums.get(ty) {
                    value.as_str().is_some_and(|v| {
                        v.split(',').all(|m| members.iter().any(|x| x == m.trim()))
                    })
                } else if self.types.contains_key(ty) {
                    match value.as_object() {
                        Some(object) => {
                            for (name, item) in object {
                                if name.contains("@odata.") || name.starts_with('@') {
                                    continue;
                                }
                                match self.property(ty, name) {
                                    Some(p) => self.check_at(
                                        item,
                                        &p.ty,
                                        p.nullable,
                                        &format!("{at}.{name}"),
                                        problems,
                                    ),
                                    None => problems
                                        .push(format!("{at}.{name}: {ty} has no property {name}")),
                                }
                            }
                            true
                        }
                        None => false,
                    }
                } else {
                    problems.push(format!("{at}: the metadata has no type {ty}"));
                    true
                }
            }
        };
        if !fits {
            problems.push(format!("{at}: {value} is not a {ty}"));
        }
    }

    /// Problems of a captured body whose kind is `graph.T` (one entity),
    /// `collection.graph.T` (a `value` array of them) or `action.NAME` (the parameters of
    /// the action bound to a user).
    pub fn check_capture(&self, kind: &str, value: &Value) -> Vec<String> {
        if let Some(ty) = kind.strip_prefix("collection.") {
            return match value.get("value") {
                Some(items) => self.check(items, &format!("Collection({ty})")),
                None => vec!["$: no value array".into()],
            };
        }
        if let Some(action) = kind.strip_prefix("action.") {
            let Some(parameters) = self
                .actions
                .get(&(action.to_owned(), "graph.user".to_owned()))
            else {
                return vec![format!(
                    "the metadata has no action {action} bound to graph.user"
                )];
            };
            let mut problems = Vec::new();
            let Some(object) = value.as_object() else {
                return vec!["$: the parameters are not an object".into()];
            };
            for (name, item) in object {
                match parameters.iter().find(|(n, _)| n == name) {
                    Some((_, p)) => {
                        self.check_at(item, &p.ty, p.nullable, &format!("$.{name}"), &mut problems);
                    }
                    None => problems.push(format!("$.{name}: {action} has no parameter {name}")),
                }
            }
            for (name, p) in parameters {
                if !p.nullable && !object.contains_key(name) {
                    problems.push(format!("$: {action} needs {name}"));
                }
            }
            return problems;
        }
        self.check(value, kind)
    }
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CSDL: &str = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="microsoft.graph" Alias="graph" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EnumType Name="calendarRoleType"><Member Name="none" Value="0" /><Member Name="read" Value="3" /></EnumType>
      <ComplexType Name="passwordProfile"><Property Name="password" Type="Edm.String" /><Property Name="forceChangePasswordNextSignIn" Type="Edm.Boolean" /></ComplexType>
      <EntityType Name="entity" Abstract="true"><Key><PropertyRef Name="id" /></Key><Property Name="id" Type="Edm.String" Nullable="false" /></EntityType>
      <EntityType Name="user" BaseType="graph.entity" OpenType="true"><Property Name="accountEnabled" Type="Edm.Boolean" /><Property Name="passwordProfile" Type="graph.passwordProfile" /><Property Name="businessPhones" Type="Collection(Edm.String)" Nullable="false" /><Property Name="role" Type="graph.calendarRoleType" /></EntityType>
      <Action Name="assignLicense" IsBound="true"><Parameter Name="bindingParameter" Type="graph.user" Nullable="false" /><Parameter Name="removeLicenses" Type="Collection(Edm.Guid)" Nullable="false" /></Action>
    </Schema></edmx:DataServices></edmx:Edmx>"#;

    #[test]
    fn bodies_are_held_to_their_types() {
        let csdl = Csdl::parse(CSDL).unwrap();
        let good = json!({"@odata.context": "x", "id": "1", "accountEnabled": true,
            "passwordProfile": {"password": "x", "forceChangePasswordNextSignIn": false},
            "businessPhones": [], "role": "read"});
        assert!(
            csdl.check(&good, "graph.user").is_empty(),
            "{:?}",
            csdl.check(&good, "graph.user")
        );
        let bad = json!({"accountEnabled": "yes", "passwordProfile": {"forceChangePassword": false},
            "role": "editor", "businessPhones": null});
        let problems = csdl.check(&bad, "graph.user");
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("graph.passwordProfile has no property forceChangePassword"))
        );
        assert!(
            csdl.check_capture(
                "action.assignLicense",
                &json!({"removeLicenses": ["not-a-guid"]})
            )
            .len()
                == 1
        );
        assert!(
            csdl.check_capture("action.assignLicense", &json!({}))
                .iter()
                .any(|p| p.contains("needs removeLicenses"))
        );
    }
}
