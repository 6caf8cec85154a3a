//! The shape of a YAML (or JSON) text, measured in one linear pass before the YAML parser runs: how deep its
//! collections nest, how many nodes it can hold at most, and whether it uses an alias.
//!
//! Why before: libyaml, serde_yaml_ng's parser, looks at every open flow collection for a stale simple key on
//! each token it reads, so n nested `[` cost O(n²): 200,000 of them (400 KB) were still being parsed after
//! 65 s. serde_yaml_ng checks its own depth limit (128) only after libyaml has produced every event of the
//! document, and it expands each alias in full (up to 100 times the document's events), so a linear number
//! of aliases of one large anchor builds a document of billions of nodes. CloudFormation refuses aliases
//! anyway ("YAML aliases are not allowed in CloudFormation templates").
//!
//! The scan follows libyaml's tokenizer where it decides what is structure: flow indicators, block
//! indicators (`- `, `? `, `: `), quoted, plain and block scalars with libyaml's rules for where they end
//! (a plain scalar continues on lines indented deeper than its block collection; a block scalar's
//! indentation is explicit or that of its first non-empty line), comments, tags, anchors and document
//! markers, and the same indentation stack. Where it is unsure it counts more, never less: the depth and
//! node counts it returns are upper bounds of those of the document serde_yaml_ng builds from the same text
//! (the fuzz target `templates` checks this on every input the parser accepts). It stops at the first
//! collection deeper than the limit or the first alias, so its cost is linear whatever the input.

/// Where the scan stopped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A collection opens deeper than `limit` levels, at `line` (1-based).
    TooDeep { limit: usize, line: usize },
    /// An alias (`*name`) at `line`.
    Alias { line: usize },
    /// More than `limit` nodes (keys, values, items; each scalar counted twice), at `line`.
    TooManyNodes { limit: usize, line: usize },
    /// A tag that is not a local one (`!!str`, `!<verbatim>`, `!handle!x`, a lone `!`) or a `%TAG`
    /// directive: the parsed document keeps only local tags (`!Name`), so these are judged here.
    Tag { tag: String, line: usize },
}

/// What the scan found: upper bounds of the parsed document's nesting depth and node count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub depth: usize,
    pub nodes: usize,
}

/// What the scan refuses past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub depth: usize,
    pub nodes: usize,
}

/// Measures `text`, refusing it at the first collection nested deeper than `max_depth` or the first alias
/// (no limit on nodes).
pub fn measure(text: &str, max_depth: usize) -> Result<Shape, Refusal> {
    measure_within(
        text,
        Limits {
            depth: max_depth,
            nodes: usize::MAX,
        },
    )
}

/// Measures `text`, refusing it at the first collection deeper than `limits.depth`, the first alias, or
/// once it holds more than `limits.nodes` nodes.
pub fn measure_within(text: &str, limits: Limits) -> Result<Shape, Refusal> {
    let max_depth = limits.depth;
    let chars: Vec<char> = text.chars().collect();
    let mut scan = Scan {
        c: &chars,
        i: 0,
        line: 1,
        col: 0,
        indents: Vec::new(),
        flows: Vec::new(),
        depth: 0,
        max_seen: 0,
        // the document's root: null when the text holds no node at all
        nodes: 1,
        limit: max_depth,
        node_limit: limits.nodes,
        key_allowed: true,
        key: None,
        key_peak: 0,
    };
    scan.run()?;
    Ok(Shape {
        depth: scan.max_seen,
        nodes: scan.nodes,
    })
}

/// A block collection: the column of its indicator or first key, as libyaml's indentation stack has it.
struct Indent {
    column: usize,
    mapping: bool,
    /// A mapping whose value at this same column is a sequence without indentation (`key:\n- a`).
    indentless: bool,
}

/// An open flow collection (`[` or `{`).
struct Flow {
    sequence: bool,
    /// A sequence entry that is a single `key: value` pair (`[a: b]`): a mapping without braces.
    pair: bool,
    /// The deepest level the current entry reached: a pair found at its `:` holds the key scanned before.
    entry_peak: usize,
}

struct Scan<'a> {
    c: &'a [char],
    i: usize,
    line: usize,
    col: usize,
    indents: Vec<Indent>,
    flows: Vec<Flow>,
    depth: usize,
    max_seen: usize,
    nodes: usize,
    limit: usize,
    node_limit: usize,
    /// Whether a simple key may start here (block context): at a line's start and after `-`, `?`, `:`.
    key_allowed: bool,
    /// The line and column where the current simple key candidate of the block context starts.
    key: Option<(usize, usize)>,
    /// The deepest level reached since that candidate started: a mapping found at its `:` holds it.
    key_peak: usize,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `!Name`: a local tag, the form of every CloudFormation short-form function.
fn is_local_tag(tag: &str) -> bool {
    tag.strip_prefix('!')
        .is_some_and(|name| !name.is_empty() && !name.contains('!') && !name.starts_with('<'))
}

fn is_flow_indicator(c: char) -> bool {
    matches!(c, ',' | '[' | ']' | '{' | '}')
}

impl Scan<'_> {
    fn at(&self, offset: usize) -> Option<char> {
        self.c.get(self.i + offset).copied()
    }

    /// Whether the character at `offset` is a blank, a break or the end of the text.
    fn blankz(&self, offset: usize) -> bool {
        self.at(offset).is_none_or(|c| is_blank(c) || is_break(c))
    }

    fn flow(&self) -> bool {
        !self.flows.is_empty()
    }

    /// One character forward; a line break (`\r\n` as one) starts a new line.
    fn advance(&mut self) {
        let Some(c) = self.at(0) else { return };
        self.i += 1;
        if is_break(c) {
            if c == '\r' && self.at(0) == Some('\n') {
                self.i += 1;
            }
            self.line += 1;
            self.col = 0;
            if !self.flow() {
                self.key_allowed = true;
            }
        } else {
            self.col += 1;
        }
    }

    fn deeper(&mut self, levels: usize) -> Result<(), Refusal> {
        self.depth += levels;
        self.nodes += levels;
        let depth = self.depth;
        self.key_peak = self.key_peak.max(depth);
        for flow in &mut self.flows {
            flow.entry_peak = flow.entry_peak.max(depth);
        }
        self.reached(depth)
    }

    /// A level reached (also by a key found to be one only at its `:`): refused past the limit.
    fn reached(&mut self, depth: usize) -> Result<(), Refusal> {
        self.max_seen = self.max_seen.max(depth);
        if depth > self.limit {
            return Err(Refusal::TooDeep {
                limit: self.limit,
                line: self.line,
            });
        }
        Ok(())
    }

    fn top_column(&self) -> Option<usize> {
        self.indents.last().map(|i| i.column)
    }

    /// libyaml's roll_indent: a block collection starts at `column` unless one is open at or right of it.
    fn roll(&mut self, column: usize, mapping: bool) -> Result<(), Refusal> {
        match self.indents.last_mut() {
            Some(top) if top.column > column => Ok(()),
            Some(top) if top.column == column => {
                if top.mapping && !mapping && !top.indentless {
                    top.indentless = true;
                    return self.deeper(1);
                }
                if mapping && top.indentless {
                    // a key at the mapping's column ends its indentless sequence
                    top.indentless = false;
                    self.depth -= 1;
                }
                Ok(())
            }
            _ => {
                self.indents.push(Indent {
                    column,
                    mapping,
                    indentless: false,
                });
                let key_peak = self.key_peak;
                self.deeper(1)?;
                if mapping {
                    // the key scanned before this `:` (a flow collection, `[a]: b`) is inside the mapping
                    self.reached(key_peak + 1)?;
                }
                Ok(())
            }
        }
    }

    /// libyaml's unroll_indent: block collections right of `column` end.
    fn unroll(&mut self, column: usize) {
        while let Some(top) = self.indents.last() {
            if top.column <= column {
                break;
            }
            self.depth -= 1 + usize::from(top.indentless);
            self.indents.pop();
        }
    }

    /// Remembers where a token that may be a simple key starts (block context only).
    fn candidate(&mut self) {
        if !self.flow() && self.key_allowed {
            self.key = Some((self.line, self.col));
            self.key_peak = self.depth;
        }
        if !self.flow() {
            self.key_allowed = false;
        }
    }

    fn run(&mut self) -> Result<(), Refusal> {
        if self.at(0) == Some('\u{feff}') {
            self.i += 1;
        }
        loop {
            if self.nodes > self.node_limit {
                return Err(Refusal::TooManyNodes {
                    limit: self.node_limit,
                    line: self.line,
                });
            }
            self.skip_to_token();
            let Some(c) = self.at(0) else { return Ok(()) };
            if !self.flow() {
                self.unroll(self.col);
            }
            if self.col == 0 && self.document_marker() {
                self.unroll_all();
                self.i += 3;
                self.col += 3;
                continue;
            }
            if self.col == 0 && c == '%' {
                let start = self.i;
                self.skip_line();
                let directive: String = self.c[start..self.i].iter().take(64).collect();
                if directive.starts_with("%TAG") {
                    return Err(Refusal::Tag {
                        tag: directive.trim_end().to_owned(),
                        line: self.line,
                    });
                }
                continue;
            }
            match c {
                '[' | '{' => {
                    self.candidate();
                    self.flows.push(Flow {
                        sequence: c == '[',
                        pair: false,
                        entry_peak: self.depth + 1,
                    });
                    self.deeper(1)?;
                    self.advance();
                }
                ']' | '}' => {
                    if let Some(flow) = self.flows.pop() {
                        self.depth -= 1 + usize::from(flow.pair);
                    }
                    self.advance();
                }
                ',' => {
                    self.end_pair();
                    self.advance();
                }
                '-' if self.blankz(1) => {
                    if !self.flow() {
                        self.roll(self.col, false)?;
                        self.key_allowed = true;
                        self.key = None;
                    }
                    self.nodes += 1;
                    self.advance();
                }
                '?' if self.flow() || self.blankz(1) => {
                    if self.flow() {
                        self.open_pair()?;
                    } else {
                        self.roll(self.col, true)?;
                        self.key_allowed = true;
                        self.key = None;
                    }
                    // a complex key: both it and its value may be null
                    self.nodes += 2;
                    self.advance();
                }
                ':' if self.flow() || self.blankz(1) => {
                    self.value_indicator()?;
                    self.advance();
                }
                '*' => return Err(Refusal::Alias { line: self.line }),
                '&' | '!' => {
                    self.candidate();
                    self.nodes += 2;
                    let (start, line) = (self.i, self.line);
                    self.node_property();
                    let tag: String = self.c[start..self.i].iter().take(64).collect();
                    if c == '!' && !is_local_tag(&tag) {
                        return Err(Refusal::Tag { tag, line });
                    }
                }
                '|' | '>' if !self.flow() => {
                    self.key = None;
                    self.key_allowed = false;
                    self.nodes += 1;
                    self.block_scalar();
                }
                '\'' => {
                    self.candidate();
                    self.nodes += 2;
                    self.single_quoted();
                }
                '"' => {
                    self.candidate();
                    self.nodes += 2;
                    self.double_quoted();
                }
                _ => {
                    // a scalar counts twice: in a flow mapping `{a}` it is a key with a null value
                    self.candidate();
                    self.nodes += 2;
                    self.plain_scalar();
                }
            }
        }
    }

    /// `:` — in the block context a mapping starts at its key's column; in a flow sequence the entry becomes
    /// a single-pair mapping.
    fn value_indicator(&mut self) -> Result<(), Refusal> {
        // the value, and the key when none was written (`: x`), may be null
        self.nodes += 2;
        if self.flow() {
            return self.open_pair();
        }
        let column = match self.key.take() {
            Some((line, column)) if line == self.line => column,
            _ => self.col,
        };
        self.key_allowed = true;
        self.roll(column, true)
    }

    /// In a flow sequence, an entry with `?` or `:` is a single-pair mapping.
    fn open_pair(&mut self) -> Result<(), Refusal> {
        match self.flows.last_mut() {
            Some(top) if top.sequence && !top.pair => {
                top.pair = true;
                let key_peak = top.entry_peak;
                self.deeper(1)?;
                // the key scanned before this `:` (`[{a: b}: c]`) is inside the pair
                self.reached(key_peak + 1)
            }
            _ => Ok(()),
        }
    }

    /// `,` ends a flow entry (and the pair it was).
    fn end_pair(&mut self) {
        if let Some(top) = self.flows.last_mut() {
            if top.pair {
                top.pair = false;
                self.depth -= 1;
            }
            top.entry_peak = self.depth;
        }
    }

    fn unroll_all(&mut self) {
        while let Some(top) = self.indents.pop() {
            self.depth -= 1 + usize::from(top.indentless);
        }
        self.key = None;
        self.key_allowed = true;
    }

    fn document_marker(&self) -> bool {
        let three = |m: char| (0..3).all(|k| self.at(k) == Some(m));
        (three('-') || three('.')) && self.blankz(3)
    }

    /// Blanks, comments and line breaks up to the next token (libyaml's scan_to_next_token).
    fn skip_to_token(&mut self) {
        while let Some(c) = self.at(0) {
            if is_blank(c) || is_break(c) || (c == '\u{feff}' && self.col == 0) {
                self.advance();
            } else if c == '#' {
                self.skip_line();
            } else {
                break;
            }
        }
    }

    /// To the end of the line, leaving the break for the caller.
    fn skip_line(&mut self) {
        while self.at(0).is_some_and(|c| !is_break(c)) {
            self.advance();
        }
    }

    /// A tag (`!Ref`, `!<verbatim>`): to the next blank (or flow indicator in a flow); an anchor (`&name`):
    /// its letters, digits, `-` and `_`, as libyaml reads it (so `&a: b` is a key anchored `a`).
    fn node_property(&mut self) {
        let verbatim = self.at(0) == Some('!') && self.at(1) == Some('<');
        let anchor = self.at(0) == Some('&');
        self.advance();
        while let Some(c) = self.at(0) {
            if anchor && !(c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                break;
            }
            if is_blank(c) || is_break(c) {
                break;
            }
            if verbatim && c == '>' {
                self.advance();
                break;
            }
            if !verbatim && self.flow() && is_flow_indicator(c) {
                break;
            }
            self.advance();
        }
    }

    fn single_quoted(&mut self) {
        self.advance();
        while let Some(c) = self.at(0) {
            if c == '\'' {
                self.advance();
                if self.at(0) != Some('\'') {
                    return;
                }
            }
            self.advance();
        }
    }

    fn double_quoted(&mut self) {
        self.advance();
        while let Some(c) = self.at(0) {
            match c {
                '"' => {
                    self.advance();
                    return;
                }
                '\\' => {
                    self.advance();
                    self.advance();
                }
                _ => self.advance(),
            }
        }
    }

    /// A plain scalar, ended as libyaml ends it: at `: `, at ` #`, at a flow indicator inside a flow, at a
    /// document marker, or at a line indented no deeper than the block collection it belongs to.
    fn plain_scalar(&mut self) {
        let indent = self.top_column().map_or(0, |c| c + 1);
        loop {
            if self.col == 0 && self.document_marker() {
                return;
            }
            if self.at(0) == Some('#') {
                return;
            }
            while let Some(c) = self.at(0) {
                if is_blank(c) || is_break(c) {
                    break;
                }
                if c == ':'
                    && (self.blankz(1)
                        || (self.flow()
                            && self.at(1).is_some_and(|n| is_flow_indicator(n) || n == '?')))
                {
                    return;
                }
                if self.flow() && is_flow_indicator(c) {
                    return;
                }
                self.advance();
            }
            let mut broke = false;
            while let Some(c) = self.at(0) {
                if is_blank(c) {
                    self.advance();
                } else if is_break(c) {
                    broke = true;
                    self.advance();
                } else {
                    break;
                }
            }
            if self.at(0).is_none() {
                return;
            }
            if !self.flow() && self.col < indent {
                return;
            }
            if !self.flow() && broke {
                // still the same scalar: a key may not start on its continuation lines
                self.key_allowed = false;
            }
        }
    }

    /// A literal (`|`) or folded (`>`) scalar: its header line, then every line indented at least its
    /// indentation (explicit, or that of its first non-empty line) and every empty line.
    fn block_scalar(&mut self) {
        let parent = self.top_column();
        self.advance();
        // the header: an indentation indicator (1-9) and a chomping indicator (+ or -) in either order
        let mut explicit = None;
        for _ in 0..2 {
            match self.at(0) {
                Some(c @ '1'..='9') => {
                    explicit = c.to_digit(10).map(|d| d as usize);
                    self.advance();
                }
                Some('+' | '-') => self.advance(),
                _ => break,
            }
        }
        self.skip_line();
        if self.at(0).is_none() {
            return;
        }
        self.advance();
        let floor = parent.map_or(1, |p| p + 1).max(1);
        let indent = match explicit {
            Some(d) => parent.map_or(d, |p| p + d),
            None => {
                let mut k = self.i;
                let mut widest_blank = 0;
                loop {
                    let spaces = self.c[k..].iter().take_while(|c| **c == ' ').count();
                    match self.c.get(k + spaces) {
                        Some(c) if is_break(*c) => {
                            widest_blank = widest_blank.max(spaces);
                            k += spaces + 1;
                        }
                        None => break widest_blank.max(spaces),
                        Some(_) => break widest_blank.max(spaces),
                    }
                }
                .max(floor)
            }
        };
        loop {
            let spaces = self.c[self.i..].iter().take_while(|c| **c == ' ').count();
            let after = self.c.get(self.i + spaces).copied();
            let content = spaces >= indent && after.is_some();
            let empty = after.is_none_or(is_break);
            if !(content || empty) {
                return;
            }
            if after.is_none() {
                return;
            }
            self.skip_line();
            if self.at(0).is_none() {
                return;
            }
            self.advance();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(text: &str) -> Shape {
        measure(text, 64).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
    }

    #[test]
    fn block_and_flow_collections_add_up() {
        assert_eq!(shape("a: b\n").depth, 1);
        assert_eq!(shape("a:\n  b:\n    - c\n").depth, 3);
        assert_eq!(shape("a: [b, {c: [d]}]\n").depth, 4);
        assert_eq!(shape("- - - x\n").depth, 3);
        assert_eq!(shape("scalar\n").depth, 0);
        assert_eq!(shape(r#"{"a": [{"b": [1, 2]}]}"#).depth, 4);
    }

    #[test]
    fn an_indentless_sequence_and_a_pair_in_a_flow_sequence_count_as_collections() {
        assert_eq!(shape("a:\n- b\n- c\nd: e\n").depth, 2);
        assert_eq!(shape("[a: [b: c]]").depth, 4);
    }

    #[test]
    fn brackets_inside_scalars_and_comments_are_text() {
        let text = "Description: see [1] and {2\n  continued [[[[ here\nName: 'it''s [ [' # [[[\nSub: \"[\\\"[\"\nLiteral: |\n  [[[[[[\n   {{{{\nNext: x\n";
        assert_eq!(shape(text).depth, 1);
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_at_its_line() {
        let deep = format!("Resources:\n  {}{}\n", "[".repeat(70), "]".repeat(70));
        assert_eq!(
            measure(&deep, 64),
            Err(Refusal::TooDeep { limit: 64, line: 2 })
        );
        let mut block = String::new();
        for level in 0..70 {
            block.push_str(&format!("{}k{level}:\n", " ".repeat(level)));
        }
        assert!(matches!(
            measure(&block, 64),
            Err(Refusal::TooDeep { limit: 64, .. })
        ));
        assert!(measure(&"- ".repeat(65), 64).is_err());
    }

    #[test]
    fn two_hundred_thousand_nested_flow_sequences_are_refused_at_the_sixty_fifth() {
        let text = format!("Resources: {}{}", "[".repeat(200_000), "]".repeat(200_000));
        assert_eq!(
            measure(&text, 64),
            Err(Refusal::TooDeep { limit: 64, line: 1 })
        );
    }

    #[test]
    fn an_alias_is_refused_and_an_anchor_alone_is_not() {
        assert_eq!(
            measure("a: &x [1]\nb: *x\n", 64),
            Err(Refusal::Alias { line: 2 })
        );
        assert!(measure("a: &x [1]\nb: 'not *x'\nc: a*b\n", 64).is_ok());
    }

    #[test]
    fn the_node_limit_stops_the_scan_where_it_is_passed() {
        let limits = Limits {
            depth: 64,
            nodes: 100,
        };
        assert!(measure_within(&"- a\n".repeat(30), limits).is_ok());
        assert_eq!(
            measure_within(&"- a\n".repeat(40), limits),
            Err(Refusal::TooManyNodes {
                limit: 100,
                line: 34
            })
        );
    }

    #[test]
    fn tags_other_than_local_ones_are_refused_with_their_text() {
        for (text, tag) in [
            (
                "Description: !!python/object/apply:os.system ['true']\n",
                "!!python/object/apply:os.system",
            ),
            ("a: !!str 5\n", "!!str"),
            ("a: !<tag:x> b\n", "!<tag:x>"),
            ("a: !e!x b\n", "!e!x"),
            ("a: ! b\n", "!"),
            (
                "%TAG ! tag:example.com,2000:\n---\na: !Ref b\n",
                "%TAG ! tag:example.com,2000:",
            ),
        ] {
            assert!(
                matches!(measure(text, 64), Err(Refusal::Tag { tag: t, .. }) if t == tag),
                "{text}: {:?}",
                measure(text, 64)
            );
        }
        assert!(measure(
            "a: !Ref b\nc: [!GetAtt x.y, !Sub '${A}']\nd: 'not !!a tag'\n",
            64
        )
        .is_ok());
    }

    /// Fuzz findings (`fuzz/corpus/templates/finding-collection-key-of-a-pair.json`,
    /// `finding-anchor-before-a-colon.yaml`): a key found to be one only at its `:` — a flow mapping before
    /// `:` in a flow sequence, a flow sequence as a block key — moves one level down with its mapping; an
    /// anchor ends where libyaml ends it, so `&Type: ` is an anchored null key of a mapping.
    #[test]
    fn a_key_found_at_its_colon_is_counted_inside_its_mapping() {
        for text in [
            r#"{"a": ["x", {"Id": {"Ref": "y"}}: ]}"#,
            "[[[a]]]: b\n",
            "&Type: \n",
            "k: [[{a: b}]: c]\n",
        ] {
            let document: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).unwrap();
            let (depth, nodes) = super::super::cloudformation::extent(&document);
            let scanned = shape(text);
            assert!(
                scanned.depth >= depth && scanned.nodes >= nodes,
                "{text}: scanned {scanned:?}, parsed depth {depth}, {nodes} nodes"
            );
        }
    }

    /// Fuzz finding (`fuzz/corpus/templates/finding-nested-complex-keys-with-nel.yaml`): complex keys `?`
    /// and value indicators `:` stand for a null key and a null value, two nodes the scan counted as one.
    #[test]
    fn complex_keys_and_bare_value_indicators_count_their_null_key_and_value() {
        for text in ["? \u{85}? ? ? ? ? ? ", "? ? ?", ": ", ": : :", "[? , :]"] {
            let Ok(document) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) else {
                continue;
            };
            let (depth, nodes) = super::super::cloudformation::extent(&document);
            let scanned = shape(text);
            assert!(
                scanned.depth >= depth && scanned.nodes >= nodes,
                "{text:?}: scanned {scanned:?}, parsed depth {depth}, {nodes} nodes"
            );
        }
    }

    /// Fuzz finding (`fuzz/corpus/templates/finding-comment-only-document.yaml`): a text of only a comment
    /// is a document whose root is null, one node the scan had not counted.
    #[test]
    fn a_document_of_only_a_comment_counts_its_null_root() {
        let text = "#*a? ";
        let document: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).unwrap();
        assert_eq!(super::super::cloudformation::extent(&document), (0, 1));
        assert_eq!(shape(text), Shape { depth: 0, nodes: 1 });
    }
}
