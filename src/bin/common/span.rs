//! A time span as the tools write it for people, shared by `sesh-timeline` and
//! `sesh-inspect` (each includes this file as a module).

/// "3 s", "1.5 s", "29 min", "2 h 5 min", "3 days".
pub fn span(ms: i64) -> String {
    let s = ms / 1000;
    if ms == 0 {
        "0 s".into()
    } else if ms < 1000 {
        format!("{ms} ms")
    } else if s < 120 {
        if ms % 1000 == 0 {
            format!("{s} s")
        } else {
            let text = format!("{:.3}", ms as f64 / 1000.0);
            format!("{} s", text.trim_end_matches('0'))
        }
    } else if s < 7200 {
        format!("{} min", s / 60)
    } else if s < 2 * 86400 {
        format!("{} h {} min", s / 3600, s % 3600 / 60)
    } else {
        format!("{} days", s / 86400)
    }
}
