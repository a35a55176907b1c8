// Package secret keeps service credentials out of what npw prints: a
// URL's password and credential-like query parameters become "xxxxx" in
// errors, logs, summaries, help texts and status.
package secret

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces a secret.
const Mask = "xxxxx"

// secretParam matches the names of query parameters that carry
// credentials.
var secretParam = regexp.MustCompile(`(?i)(password|passwd|secret|token|credential|signature|access.?key|auth)`)

// userinfo matches the user:password@ of a URL that does not parse.
var userinfo = regexp.MustCompile(`(://[^/@:\s]*):[^/@\s]*@`)

// Redact returns rawurl with its password and its credential-like query
// parameters masked; text that is not a URL has any user:password@ in it
// masked.
func Redact(rawurl string) string {
	u, err := url.Parse(rawurl)
	if err != nil || u.Scheme == "" {
		return userinfo.ReplaceAllString(rawurl, "${1}:"+Mask+"@")
	}
	changed := false
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Mask)
		changed = true
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if secretParam.MatchString(k) {
				q[k] = []string{Mask}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	if !changed {
		return rawurl
	}
	out := u.String()
	if prefix := u.Scheme + "://"; strings.HasPrefix(rawurl, prefix) && !strings.HasPrefix(out, prefix) {
		out = prefix + strings.TrimPrefix(out, u.Scheme+":")
	}
	return out
}

// RedactIn masks in text every occurrence of the secrets of the URLs: their
// passwords, as they appear, and the URLs themselves.
func RedactIn(text string, urls ...string) string {
	for _, raw := range urls {
		if raw == "" {
			continue
		}
		text = strings.ReplaceAll(text, raw, Redact(raw))
		if u, err := url.Parse(raw); err == nil {
			if p, ok := u.User.Password(); ok && p != "" {
				text = strings.ReplaceAll(text, p, Mask)
			}
		}
	}
	return text
}

// Wrap returns err with the secrets of the URLs masked in its message
// (RedactIn); errors.Is and errors.As still see err.
func Wrap(err error, urls ...string) error {
	if err == nil {
		return nil
	}
	msg := RedactIn(err.Error(), urls...)
	if msg == err.Error() {
		return err
	}
	return &redacted{msg: msg, err: err}
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }
