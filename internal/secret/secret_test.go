package secret

import "testing"

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:hunter2@127.0.0.1:6379/0":                          "redis://:xxxxx@127.0.0.1:6379/0",
		"redis://user:hunter2@h:1/0":                                 "redis://user:xxxxx@h:1/0",
		"redis://127.0.0.1:6379/0":                                   "redis://127.0.0.1:6379/0",
		"s3://npw/p?endpoint=http://127.0.0.1:9000&region=us-east-1": "s3://npw/p?endpoint=http://127.0.0.1:9000&region=us-east-1",
		"s3://b/?region=x&secret_key=abc":                            "s3://b/?region=x&secret_key=xxxxx",
		"sqs://?endpoint=http://h:1&X-Amz-Signature=abc":             "sqs://?X-Amz-Signature=xxxxx&endpoint=http%3A%2F%2Fh%3A1",
		"mem://":             "mem://",
		"redis://:pa%zz@h/0": "redis://:xxxxx@h/0",
		"file:///tmp/x":      "file:///tmp/x",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := RedactIn("dial redis://:hunter2@h:1/0: auth hunter2 refused", "redis://:hunter2@h:1/0"); got != "dial redis://:xxxxx@h:1/0: auth xxxxx refused" {
		t.Errorf("RedactIn: %q", got)
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("redis://:hunter2@127.0.0.1:6379/0")
	f.Add("s3://b/?secret=x")
	f.Fuzz(func(t *testing.T, s string) {
		_ = Redact(s)
	})
}
