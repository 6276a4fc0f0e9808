//! Just enough Markdown for the checks: fenced blocks, headings and their
//! GitHub anchors, inline code spans, and link targets outside code.

/// A Markdown file split the way the checks read it.
pub struct Page {
    /// The anchors of its headings, as GitHub makes them (duplicates get `-1`, `-2`, …).
    pub anchors: Vec<String>,
    /// Headings whose anchor another heading of the page already has: a
    /// link to that anchor lands on the first of them, whichever was meant.
    pub duplicates: Vec<String>,
    /// Link targets outside code, with the line they are on.
    pub links: Vec<(usize, String)>,
    /// The content of every inline code span, with the line it starts on.
    pub spans: Vec<(usize, String)>,
    /// Fenced blocks: the info string (`sh`, `sql`, …) and the first line and text of the block.
    pub fences: Vec<(String, usize, String)>,
}

pub fn parse(text: &str) -> Page {
    let mut page = Page {
        anchors: Vec::new(),
        duplicates: Vec::new(),
        links: Vec::new(),
        spans: Vec::new(),
        fences: Vec::new(),
    };
    // Prose with the fenced blocks blanked out, line numbers kept.
    let mut prose = String::new();
    let mut fence: Option<(String, String, usize, String)> = None; // (marker, info, line, text)
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut fence {
            Some((marker, info, start, body)) => {
                if trimmed.starts_with(marker.as_str())
                    && trimmed.trim_start_matches(&marker[..1]).trim().is_empty()
                {
                    page.fences.push((info.clone(), *start, std::mem::take(body)));
                    fence = None;
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
                prose.push('\n');
            }
            None => {
                if let Some(marker) = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m)) {
                    let ticks = trimmed.chars().take_while(|c| *c == marker.as_bytes()[0] as char).count();
                    let info = trimmed[ticks..].trim().to_string();
                    fence = Some((trimmed[..ticks].to_string(), info, i + 1, String::new()));
                    prose.push('\n');
                    continue;
                }
                if let Some(heading) = heading(line) {
                    let base = slug(&heading);
                    let n = page.anchors.iter().filter(|a| strip_suffix(a, &base)).count();
                    if n > 0 {
                        page.duplicates.push(heading.clone());
                    }
                    page.anchors.push(if n == 0 { base } else { format!("{base}-{n}") });
                }
                prose.push_str(line);
                prose.push('\n');
            }
        }
    }
    let outside_spans = spans(&prose, &mut page.spans);
    page.links = links(&outside_spans);
    page
}

/// `base` itself or `base-N`: an anchor GitHub made from the same heading text.
fn strip_suffix(anchor: &str, base: &str) -> bool {
    anchor == base
        || anchor
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// The text of an ATX heading (`## Text`), `None` for any other line.
fn heading(line: &str) -> Option<String> {
    let hashes = line.chars().take_while(|c| *c == '#').count();
    let rest = line.get(hashes..)?;
    ((1..=6).contains(&hashes) && (rest.starts_with(' ') || rest.is_empty()))
        .then(|| rest.trim().trim_end_matches('#').trim().to_string())
}

/// GitHub's anchor for a heading: its rendered text (code spans, emphasis and
/// link targets dropped) in lower case, letters, digits, `-` and `_` kept,
/// each space a `-`, every other character dropped.
pub fn slug(heading: &str) -> String {
    let mut text = String::new();
    let mut rest = heading;
    // [text](target) renders as text.
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|c| open + c) else { break };
        let Some(end) = rest[close..].find(')').map(|e| close + e) else { break };
        text.push_str(&rest[..open]);
        text.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    text.to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Collects the inline code spans of `prose` (a run of N backticks up to the
/// next run of exactly N) into `out` and returns the prose with them blanked.
fn spans(prose: &str, out: &mut Vec<(usize, String)>) -> String {
    let bytes = prose.as_bytes();
    let mut kept = String::with_capacity(prose.len());
    let (mut i, mut from) = (0, 0);
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let run = bytes[i..].iter().take_while(|b| **b == b'`').count();
        let mut j = i + run;
        let close = loop {
            let Some(k) = prose[j..].find('`').map(|k| j + k) else { break None };
            let n = bytes[k..].iter().take_while(|b| **b == b'`').count();
            if n == run {
                break Some(k);
            }
            j = k + n;
        };
        match close {
            Some(k) => {
                let line = prose[..i].matches('\n').count() + 1;
                out.push((line, prose[i + run..k].replace('\n', " ").trim().to_string()));
                kept.push_str(&prose[from..i]);
                // Keep the line count, blank the code.
                kept.extend(prose[i..k + run].chars().filter(|c| *c == '\n'));
                i = k + run;
                from = i;
            }
            None => i += run,
        }
    }
    kept.push_str(&prose[from..]);
    kept
}

/// The targets of `[text](target)` and `![alt](target)` links, a title after
/// the target left out.
fn links(prose: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in prose.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let target = &rest[at + 2..];
            let Some(end) = target.find(')') else { break };
            let target = target[..end].split_whitespace().next().unwrap_or_default();
            found.push((n + 1, target.trim_matches(|c| c == '<' || c == '>').to_string()));
            rest = &rest[at + 2 + end..];
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_githubs_rules() {
        assert_eq!(slug("Running it: the daemon, --once, metrics"), "running-it-the-daemon---once-metrics");
        assert_eq!(slug("The demo (worker demo)"), "the-demo-worker-demo");
        assert_eq!(slug("`worker get` and the [budget](#x)"), "worker-get-and-the-budget");
        assert_eq!(
            slug("Rerun of every section: `bench/all.sh`, 2026-12-02"),
            "rerun-of-every-section-benchallsh-2026-12-02"
        );
        let page = parse("# A\n## Keys\n```sh\n# not a heading\n```\n## Keys\n");
        assert_eq!(page.anchors, ["a", "keys", "keys-1"]);
        assert_eq!(page.duplicates, ["Keys"]);
    }

    #[test]
    fn links_and_spans_are_read_outside_code_only() {
        let page = parse(
            "See [a](a.md#x) and `[not](b.md)`.\n```sh\n[no](c.md)\n```\n[d](<d.md> \"title\") ``x ` y``\n",
        );
        let targets: Vec<&str> = page.links.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(targets, ["a.md#x", "d.md"]);
        let spans: Vec<&str> = page.spans.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(spans, ["[not](b.md)", "x ` y"]);
        assert_eq!(page.fences.len(), 1);
        assert_eq!(page.fences[0].0, "sh");
    }
}
