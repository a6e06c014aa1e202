// Why: `skeleton` builds a template's tree itself, so it must apply `{%-`/`-%}` trimming exactly as
// Tera does after its own parse. Tera's `remove_whitespace` (tera 1.x, src/parser/whitespace.rs,
// MIT) is not public, so this is a faithful port of it (trimming in place, below); the tests in
// `skeleton` compare the resulting trees with Tera's, for every embedded template and for
// thousands of random ones.

use tera::ast::{If, Node, WS};

/// Right-trims the last node of `nodes` if it is text, dropping it if nothing is left.
fn trim_right_previous(nodes: &mut Vec<Node>) {
    if let Some(Node::Text(s)) = nodes.last_mut() {
        trim_end(s);
        if s.is_empty() {
            nodes.pop();
        }
    }
}

// Tera trims into new strings; trimming in place gives the same text without copying the lock
// file's half megabyte of raw text again.
fn trim_end(s: &mut String) {
    s.truncate(s.trim_end().len());
}

fn trim_start(s: &mut String) {
    let cut = s.len() - s.trim_start().len();
    s.drain(..cut);
}

/// Tera's `remove_whitespace`: `body_ws.left` trims the body's first text node from the left,
/// `body_ws.right` its last one from the right; every tag's own flags trim its neighbours.
pub fn remove_whitespace(nodes: Vec<Node>, body_ws: Option<WS>) -> Vec<Node> {
    let mut res = Vec::with_capacity(nodes.len());
    let mut previous_was_text = false;
    let mut trim_left_next = body_ws.is_some_and(|ws| ws.left);

    for n in nodes {
        match n {
            Node::Text(mut s) => {
                previous_was_text = true;
                if !trim_left_next {
                    res.push(Node::Text(s));
                    continue;
                }
                trim_left_next = false;
                trim_start(&mut s);
                // Empty text nodes are dropped.
                if !s.is_empty() {
                    res.push(Node::Text(s));
                }
                continue;
            }
            Node::VariableBlock(ws, _)
            | Node::ImportMacro(ws, _, _)
            | Node::Extends(ws, _)
            | Node::Include(ws, _, _)
            | Node::Set(ws, _)
            | Node::Break(ws)
            | Node::Comment(ws, _)
            | Node::Continue(ws) => {
                if previous_was_text && ws.left {
                    trim_right_previous(&mut res);
                }
                trim_left_next = ws.right;
            }
            Node::Raw(start_ws, mut s, end_ws) => {
                if previous_was_text && start_ws.left {
                    trim_right_previous(&mut res);
                }
                previous_was_text = false;
                trim_left_next = end_ws.right;
                if end_ws.left {
                    trim_end(&mut s);
                }
                if start_ws.right {
                    trim_start(&mut s);
                }
                res.push(Node::Raw(start_ws, s, end_ws));
                continue;
            }
            Node::Forloop(start_ws, mut forloop, end_ws) => {
                open_body(&mut res, &mut previous_was_text, start_ws);
                trim_left_next = end_ws.right;
                forloop.body = remove_whitespace(forloop.body, Some(body_ws_of(start_ws, end_ws)));
                res.push(Node::Forloop(start_ws, forloop, end_ws));
                continue;
            }
            Node::MacroDefinition(start_ws, mut def, end_ws) => {
                open_body(&mut res, &mut previous_was_text, start_ws);
                trim_left_next = end_ws.right;
                def.body = remove_whitespace(def.body, Some(body_ws_of(start_ws, end_ws)));
                res.push(Node::MacroDefinition(start_ws, def, end_ws));
                continue;
            }
            Node::FilterSection(start_ws, mut section, end_ws) => {
                open_body(&mut res, &mut previous_was_text, start_ws);
                trim_left_next = end_ws.right;
                section.body = remove_whitespace(section.body, Some(body_ws_of(start_ws, end_ws)));
                res.push(Node::FilterSection(start_ws, section, end_ws));
                continue;
            }
            Node::Block(start_ws, mut block, end_ws) => {
                open_body(&mut res, &mut previous_was_text, start_ws);
                trim_left_next = end_ws.right;
                block.body = remove_whitespace(block.body, Some(body_ws_of(start_ws, end_ws)));
                res.push(Node::Block(start_ws, block, end_ws));
                continue;
            }
            Node::If(if_node, end_ws) => {
                trim_left_next = end_ws.right;
                let node = remove_in_if(if_node, end_ws, &mut res, previous_was_text);
                res.push(node);
                previous_was_text = false;
                continue;
            }
            Node::Super => (),
        };
        // Not a text node, and not modified.
        previous_was_text = false;
        res.push(n);
    }

    if body_ws.is_some_and(|ws| ws.right) {
        trim_right_previous(&mut res);
    }
    res
}

/// What every tag with a body does before its body is cleaned: `{%-` trims the text before it.
fn open_body(res: &mut Vec<Node>, previous_was_text: &mut bool, start_ws: WS) {
    if *previous_was_text && start_ws.left {
        trim_right_previous(res);
    }
    *previous_was_text = false;
}

fn body_ws_of(start_ws: WS, end_ws: WS) -> WS {
    WS {
        left: start_ws.right,
        right: end_ws.left,
    }
}

/// The `If` arm of Tera's function ("the ugly one"); `res` is what precedes the `if`.
fn remove_in_if(if_node: If, end_ws: WS, res: &mut Vec<Node>, previous_was_text: bool) -> Node {
    let If {
        conditions,
        otherwise,
    } = if_node;
    let mut new_conditions: Vec<(WS, tera::ast::Expr, Vec<Node>)> =
        Vec::with_capacity(conditions.len());
    for mut condition in conditions {
        if condition.0.left {
            // The text before the `if` tag, or the end of the previous branch.
            if new_conditions.is_empty() && previous_was_text {
                trim_right_previous(res);
            } else if let Some((_, _, body)) = new_conditions.last_mut() {
                trim_right_previous(body);
            }
        }
        let ws = WS {
            left: condition.0.right,
            right: false,
        };
        condition.2 = remove_whitespace(condition.2, Some(ws));
        new_conditions.push(condition);
    }

    if let Some((else_ws, body)) = otherwise {
        if else_ws.left {
            if let Some((_, _, body)) = new_conditions.last_mut() {
                trim_right_previous(body);
            }
        }
        let ws = WS {
            left: else_ws.right,
            right: false,
        };
        let mut else_body = remove_whitespace(body, Some(ws));
        // With an `else`, `{%- endif` trims the else branch.
        if end_ws.left {
            trim_right_previous(&mut else_body);
        }
        return Node::If(
            If {
                conditions: new_conditions,
                otherwise: Some((else_ws, else_body)),
            },
            end_ws,
        );
    }

    if end_ws.left {
        if let Some((_, _, body)) = new_conditions.last_mut() {
            trim_right_previous(body);
        }
    }
    Node::If(
        If {
            conditions: new_conditions,
            otherwise,
        },
        end_ws,
    )
}
