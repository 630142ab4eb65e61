//! Every name the C header declares carries sesh's prefix (`SESH_` for macros and enum
//! values, `Sesh` for types, `sesh_` for functions). The shared library's exported symbols
//! are checked by the `exports_only_sesh_symbols` ctest.

fn header() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/sesh.h"))
        .expect("include/sesh.h is there")
}

/// The header without comments.
fn declarations() -> String {
    let text = header();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a name is declared as, and the name: macros, enum values, types.
fn declared_names(code: &str) -> Vec<(&'static str, String)> {
    let mut names = Vec::new();
    for line in code.lines().map(str::trim) {
        let word = |text: &str| {
            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .find(|w| !w.is_empty())
                .unwrap_or("")
                .to_owned()
        };
        if let Some(rest) = line.strip_prefix("#define ") {
            names.push(("macro", word(rest)));
        } else if let Some(rest) = line.strip_prefix("enum ") {
            names.push(("enum", word(rest)));
        } else if let Some((value, _)) = line.split_once(" = ") {
            names.push(("enum value", word(value)));
        } else if let Some(rest) = line.strip_prefix("typedef struct ") {
            names.push(("type", word(rest)));
        } else if let Some(rest) = line.strip_prefix("} ") {
            names.push(("type", word(rest)));
        } else if let Some(at) = line.find("(*").filter(|_| line.starts_with("typedef")) {
            names.push(("function type", word(&line[at + 2..])));
        }
    }
    names
}

#[test]
fn every_name_in_the_header_carries_the_sesh_prefix() {
    let code = declarations();
    let names = declared_names(&code);
    for (kind, name) in names.iter().filter(|(_, name)| !name.is_empty()) {
        let prefixed = match *kind {
            "macro" | "enum value" => name.starts_with("SESH_"),
            _ => name.starts_with("Sesh"),
        };
        assert!(prefixed, "{kind} {name} does not carry sesh's prefix");
    }
    assert!(
        names.len() > 25,
        "only {} names found: {names:?}",
        names.len()
    );
    // The functions: every declaration names one `sesh_…`.
    let functions = code.matches(" sesh_").count() + code.matches("\nsesh_").count();
    assert!(functions > 40, "only {functions} functions found");
}

#[test]
fn the_check_sees_each_kind_of_name() {
    let names = declared_names(
        "#define LEAKED 1\nenum Thing {\n  THING_A = 0,\n};\ntypedef struct Other Other;\ntypedef void (*Callback)(void);\n",
    );
    let found: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(found, ["LEAKED", "Thing", "THING_A", "Other", "Callback"]);
}
