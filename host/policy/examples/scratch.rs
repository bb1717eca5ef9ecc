use cedar_policy::*;
use std::str::FromStr;
fn main() {
    let s = r#"
entity Org;
entity Workspace in [Org];
entity Agent in [Workspace];
entity Model;
type Claims = {
  "lucid.x"?: Long,
  injection_risk?: decimal,
  "if"?: Bool,
  pii_entities?: Set<String>,
};
type Coverage = { ran: Set<String>, failed: Set<String> };
action "request", "response" appliesTo { principal: [Agent], resource: [Model], context: { claims: Claims, coverage: Coverage } };
"#;
    let (schema, w) = Schema::from_cedarschema_str(s).unwrap();
    for w in w { println!("warn {w}"); }
    let src = r#"
// comment; with semicolon
@id("a")
forbid(principal in Org::"acme", action, resource) when { context.claims has "lucid.x" && context.claims["lucid.x"] > 3 };
@id("b") permit(principal, action == Action::"request", resource) when { context.claims has injection_risk && context.claims.injection_risk.lessThan(decimal("0.5")) && context.claims has "if" && context.claims["if"] };
permit(principal, action, resource) when { context.claims.pii_entities.contains("x") };
permit(principal, action, resource) when { context.claims has estimated && context.claims.estimated > 3 };
"#;
    let ps = PolicySet::from_str(src).unwrap();
    for p in ps.policies() { println!("{} {:?}", p.id(), p.annotation("id")); }
    let v = Validator::new(schema.clone());
    let r = v.validate(&ps, ValidationMode::Strict);
    for e in r.validation_errors() {
        use miette::Diagnostic;
        let labels: Vec<_> = e.labels().map(|l| l.map(|l| l.offset()).collect::<Vec<_>>()).unwrap_or_default();
        println!("ERR {} :: {} labels={:?}", e.policy_id(), e, labels);
    }
    let d = RestrictedExpression::new_decimal("0.12345");
    let c = Context::from_pairs([("x".to_string(), d)]);
    println!("{:?}", c.err().map(|e| e.to_string()));
    let d = RestrictedExpression::new_decimal("-0.1234");
    println!("{:?}", Context::from_pairs([("x".to_string(), d)]).is_ok());
    // decimal overflow at runtime?
    let ps2 = PolicySet::from_str(r#"forbid(principal, action, resource) when { context.claims has "lucid.x" && context.claims["lucid.x"] + 1 > 0 };
    permit(principal, action, resource);"#).unwrap();
    let r = v.validate(&ps2, ValidationMode::Strict);
    println!("ps2 valid {}", r.validation_passed());
    let claims = RestrictedExpression::new_record([("lucid.x".to_string(), RestrictedExpression::new_long(i64::MAX))]).unwrap();
    let cov = RestrictedExpression::new_record([("ran".to_string(), RestrictedExpression::new_set([])),("failed".to_string(), RestrictedExpression::new_set([]))]).unwrap();
    let ctx = Context::from_pairs([("claims".to_string(), claims), ("coverage".to_string(), cov)]).unwrap();
    let req = Request::new(EntityUid::from_str(r#"Agent::"a""#).unwrap(), EntityUid::from_str(r#"Action::"request""#).unwrap(), EntityUid::from_str(r#"Model::"m""#).unwrap(), ctx.clone(), Some(&schema));
    println!("req {:?}", req.as_ref().err().map(|e| e.to_string()));
    let resp = Authorizer::new().is_authorized(&req.unwrap(), &ps2, &Entities::empty());
    println!("{:?} {:?} {:?}", resp.decision(), resp.diagnostics().reason().collect::<Vec<_>>(), resp.diagnostics().errors().map(|e| e.to_string()).collect::<Vec<_>>());
}
