//! The FHIRPath subset SQL-on-FHIR v2 requires (and a few functions views commonly use), parsed once per view
//! into a tree. Anything outside it is refused when the view is read, naming what is missing.

use super::{Expr, Function, Literal, Op};
use crate::decimal::Decimal;
use crate::temporal::{Temporal, TemporalKind};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    /// `%name`
    External(String),
    /// `$this`, `$index`
    Special(String),
    Str(String),
    Number(String),
    /// `@2020-01-01`, `@T12:00`
    Moment(String),
    Punct(&'static str),
}

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let quoted = |i: &mut usize, close: char| -> Result<String, String> {
        let mut s = String::new();
        *i += 1;
        loop {
            match chars.get(*i) {
                None => return Err(format!("a quote {close} is not closed")),
                Some(&c) if c == close => {
                    *i += 1;
                    return Ok(s);
                }
                Some('\\') => {
                    let e = chars.get(*i + 1).copied().ok_or("a \\ at the end of the text")?;
                    match e {
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        'f' => s.push('\u{c}'),
                        'u' => {
                            let hex: String = chars.get(*i + 2..*i + 6).ok_or("a short \\u escape")?.iter().collect();
                            let code = u32::from_str_radix(&hex, 16).map_err(|_| "a bad \\u escape")?;
                            s.push(char::from_u32(code).ok_or("a bad \\u escape")?);
                            *i += 4;
                        }
                        other => s.push(other),
                    }
                    *i += 2;
                }
                Some(&c) => {
                    s.push(c);
                    *i += 1;
                }
            }
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            break;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == '`' {
            out.push(Token::Ident(quoted(&mut i, '`')?));
        } else if c == '\'' {
            out.push(Token::Str(quoted(&mut i, '\'')?));
        } else if c == '%' {
            i += 1;
            let name = match chars.get(i) {
                Some('`') => quoted(&mut i, '`')?,
                Some('\'') => quoted(&mut i, '\'')?,
                _ => {
                    let start = i;
                    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                    chars[start..i].iter().collect()
                }
            };
            if name.is_empty() {
                return Err("a % without a name".into());
            }
            out.push(Token::External(name));
        } else if c == '$' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Token::Special(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            out.push(Token::Number(chars[start..i].iter().collect()));
        } else if c == '@' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '-' | ':' | '.' | '+')) {
                i += 1;
            }
            out.push(Token::Moment(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let punct = ["<=", ">=", "!=", "!~"].into_iter().find(|p| *p == two);
            if let Some(p) = punct {
                out.push(Token::Punct(p));
                i += 2;
            } else {
                let one = ["(", ")", "[", "]", "{", "}", ".", ",", "+", "-", "*", "/", "&", "|", "=", "~", "<", ">"]
                    .into_iter()
                    .find(|p| p.starts_with(c))
                    .ok_or_else(|| format!("'{c}' is not part of FHIRPath"))?;
                out.push(Token::Punct(one));
                i += 1;
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

/// Binding strength of infix operators, FHIRPath §10 (higher binds tighter).
fn infix(token: &Token) -> Option<(u8, Op)> {
    Some(match token {
        Token::Punct("*") => (9, Op::Mul),
        Token::Punct("/") => (9, Op::Div),
        Token::Ident(w) if w == "div" => (9, Op::IntDiv),
        Token::Ident(w) if w == "mod" => (9, Op::Mod),
        Token::Punct("+") => (8, Op::Add),
        Token::Punct("-") => (8, Op::Sub),
        Token::Punct("&") => (8, Op::Concat),
        Token::Ident(w) if w == "is" => (7, Op::Is),
        Token::Ident(w) if w == "as" => (7, Op::As),
        Token::Punct("|") => (6, Op::Union),
        Token::Punct("<") => (5, Op::Lt),
        Token::Punct(">") => (5, Op::Gt),
        Token::Punct("<=") => (5, Op::Le),
        Token::Punct(">=") => (5, Op::Ge),
        Token::Punct("=") => (4, Op::Eq),
        Token::Punct("!=") => (4, Op::Ne),
        Token::Punct("~") => (4, Op::Equiv),
        Token::Punct("!~") => (4, Op::NotEquiv),
        Token::Ident(w) if w == "in" => (3, Op::In),
        Token::Ident(w) if w == "contains" => (3, Op::Contains),
        Token::Ident(w) if w == "and" => (2, Op::And),
        Token::Ident(w) if w == "or" => (1, Op::Or),
        Token::Ident(w) if w == "xor" => (1, Op::Xor),
        Token::Ident(w) if w == "implies" => (0, Op::Implies),
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, p: &'static str) -> Result<(), String> {
        match self.next() {
            Some(Token::Punct(q)) if q == p => Ok(()),
            Some(other) => Err(format!("expected '{p}', found {}", describe(&other))),
            None => Err(format!("expected '{p}' at the end")),
        }
    }

    fn expression(&mut self, min: u8) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while let Some((strength, op)) = self.peek().and_then(infix) {
            if strength < min {
                break;
            }
            self.at += 1;
            if matches!(op, Op::Is | Op::As) {
                let name = self.type_name()?;
                left = Expr::TypeTest(Box::new(left), name, op == Op::As);
                continue;
            }
            let right = self.expression(strength + 1)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn type_name(&mut self) -> Result<String, String> {
        let mut name = match self.next() {
            Some(Token::Ident(n)) => n,
            other => {
                return Err(format!(
                    "expected a type name, found {}",
                    other.as_ref().map_or("the end".into(), describe)
                ));
            }
        };
        while self.peek() == Some(&Token::Punct(".")) {
            self.at += 1;
            match self.next() {
                Some(Token::Ident(n)) => name = n,
                _ => return Err("expected a type name after '.'".into()),
            }
        }
        Ok(name)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some(Token::Punct("-")) => {
                self.at += 1;
                Ok(Expr::Negate(Box::new(self.unary()?)))
            }
            Some(Token::Punct("+")) => {
                self.at += 1;
                self.unary()
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut e = self.term()?;
        loop {
            match self.peek() {
                Some(Token::Punct(".")) => {
                    self.at += 1;
                    e = self.invocation(Some(e))?;
                }
                Some(Token::Punct("[")) => {
                    self.at += 1;
                    let index = self.expression(0)?;
                    self.expect("]")?;
                    e = Expr::Index(Box::new(e), Box::new(index));
                }
                _ => return Ok(e),
            }
        }
    }

    fn invocation(&mut self, base: Option<Expr>) -> Result<Expr, String> {
        let name = match self.next() {
            Some(Token::Ident(n)) => n,
            Some(Token::Special(s)) if s == "$this" && base.is_none() => return Ok(Expr::This),
            other => {
                return Err(format!("expected a name, found {}", other.as_ref().map_or("the end".into(), describe)));
            }
        };
        if self.peek() != Some(&Token::Punct("(")) {
            return Ok(Expr::Member(base.map(Box::new), name));
        }
        self.at += 1;
        let mut args = Vec::new();
        if self.peek() != Some(&Token::Punct(")")) {
            loop {
                args.push(self.expression(0)?);
                if self.peek() == Some(&Token::Punct(",")) {
                    self.at += 1;
                } else {
                    break;
                }
            }
        }
        self.expect(")")?;
        let function = Function::from_call(&name, args)?;
        if let (Function::OfType(t), Some(Expr::Member(inner, member))) = (&function, &base) {
            return Ok(Expr::Choice(inner.clone(), member.clone(), super::ChoiceOf::new(member, t.clone())));
        }
        Ok(Expr::Call(base.map(Box::new), function))
    }

    fn term(&mut self) -> Result<Expr, String> {
        match self.peek().cloned() {
            Some(Token::Str(s)) => {
                self.at += 1;
                Ok(Expr::Literal(Literal::Str(s)))
            }
            Some(Token::Number(n)) => {
                self.at += 1;
                if let Some(Token::Str(unit)) = self.peek() {
                    return Err(format!("quantity literals ({n} '{unit}') are not supported"));
                }
                Ok(Expr::Literal(match n.parse::<i64>() {
                    Ok(i) if !n.contains('.') => Literal::Int(i),
                    _ => Literal::Decimal(Decimal::parse(&n).ok_or_else(|| format!("{n} is out of range"))?),
                }))
            }
            Some(Token::Moment(m)) => {
                self.at += 1;
                let t = match m.strip_prefix('T') {
                    Some(time) => Temporal::parse(time, TemporalKind::Time),
                    None => Temporal::parse(m.trim_end_matches('T'), TemporalKind::Date),
                };
                Ok(Expr::Literal(Literal::Temporal(t.ok_or_else(|| format!("@{m} is not a date, dateTime or time"))?)))
            }
            Some(Token::External(name)) => {
                self.at += 1;
                Ok(Expr::External(name))
            }
            Some(Token::Special(s)) => {
                self.at += 1;
                match s.as_str() {
                    "$this" => Ok(Expr::This),
                    "$index" => Ok(Expr::IndexVar),
                    other => Err(format!("{other} is not supported")),
                }
            }
            Some(Token::Punct("(")) => {
                self.at += 1;
                let e = self.expression(0)?;
                self.expect(")")?;
                Ok(e)
            }
            Some(Token::Punct("{")) => {
                self.at += 1;
                self.expect("}")?;
                Ok(Expr::Empty)
            }
            Some(Token::Ident(w)) if w == "true" || w == "false" => {
                self.at += 1;
                Ok(Expr::Literal(Literal::Bool(w == "true")))
            }
            Some(Token::Ident(_)) => self.invocation(None),
            Some(other) => Err(format!("unexpected {}", describe(&other))),
            None => Err("the expression is empty or ends too early".into()),
        }
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Ident(n) => format!("'{n}'"),
        Token::External(n) => format!("'%{n}'"),
        Token::Special(n) => format!("'{n}'"),
        Token::Str(s) => format!("the string '{s}'"),
        Token::Number(n) => format!("the number {n}"),
        Token::Moment(m) => format!("'@{m}'"),
        Token::Punct(p) => format!("'{p}'"),
    }
}

/// Parses a whole FHIRPath expression; the error says what is wrong in plain words.
pub fn parse(text: &str) -> Result<Expr, String> {
    let tokens = lex(text)?;
    let mut parser = Parser { tokens, at: 0 };
    let e = parser.expression(0)?;
    match parser.next() {
        None => Ok(e),
        Some(t) => Err(format!("unexpected {} after a complete expression", describe(&t))),
    }
}
