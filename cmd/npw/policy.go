package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"github.com/npw-dev/npw/internal/awsconf"
)

type policyOptions struct {
	store, queue, region, account, function, who string
}

func newDeployPolicyCmd() *cobra.Command {
	var o policyOptions
	cmd := &cobra.Command{
		Use:   "policy --store s3://bucket/prefix --queue sqs://[prefix] [--for worker|client]",
		Short: "Print the least-privilege IAM policy of npw's workers (or of a client)",
		Long: `Policy prints an IAM policy document (JSON) with only what npw needs.

For the workers' role (--for worker, the default): read, write and
delete the jobs' tiles (jobs/ under the store's prefix), read the
matrices clients upload (matrices/), list both (so that a missing tile
reads as missing), use the jobs' queues — receive, send, delete, renew
leases, look them up — and write the function's logs. Workers never
create or delete queues. For a client that runs jobs (--for client): the
same, also writing and deleting matrices, creating and deleting the
jobs' queues, and invoking the function. For the function's role when
jobs with Lambda workers are detached, which makes the function its own
provisioner (--for provisioner): the client's, the function's logs, and
writing the outputs it saves anywhere under the store's prefix. Redis is reached over the network (its password
or TLS), not through IAM.`,
		Example: `  npw deploy policy --store s3://my-bucket/npw --queue sqs:// --region us-east-1 --account 123456789012`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPolicy(cmd.OutOrStdout(), &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.store, "store", os.Getenv("NPW_STORE"), "the tile store `URL` (s3://bucket/prefix; default $NPW_STORE)")
	f.StringVar(&o.queue, "queue", envOr("NPW_QUEUE", "sqs://"), "the queue `URL` (sqs://[prefix]; default $NPW_QUEUE)")
	f.StringVar(&o.region, "region", "", "the AWS `REGION` (default: the AWS configuration's; '*' for any)")
	f.StringVar(&o.account, "account", "", "the AWS account `ID` (default: the credentials' own, from STS; '*' for any)")
	f.StringVar(&o.function, "function", envOr("NPW_FUNCTION", "npw"), "the Lambda function's `NAME`")
	f.StringVar(&o.who, "for", "worker", "whose policy: worker, client or provisioner (the function's role when it provisions detached jobs)")
	return cmd
}

func runPolicy(w io.Writer, o *policyOptions) error {
	// The flags are checked before the AWS configuration is asked.
	if _, err := iamPolicy(o.store, o.queue, "*", "*", o.function, o.who); err != nil {
		return err
	}
	if err := o.resolve(); err != nil {
		return err
	}
	doc, err := iamPolicy(o.store, o.queue, o.region, o.account, o.function, o.who)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(out))
	return err
}

type statement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  []string       `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

// iamPolicy builds the policy document of --for worker or client.
func iamPolicy(store, queue, region, account, function, who string) (map[string]any, error) {
	su, err := url.Parse(store)
	if err != nil || su.Scheme != "s3" || su.Host == "" {
		return nil, usagef("--store %q: want s3://bucket/prefix", store)
	}
	qu, err := url.Parse(queue)
	if err != nil || qu.Scheme != "sqs" {
		return nil, usagef("--queue %q: want sqs://[prefix]", queue)
	}
	if who != "worker" && who != "client" && who != "provisioner" {
		return nil, usagef("--for %q: want worker, client or provisioner", who)
	}
	prefix := strings.Trim(su.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	queues := "npw-*"
	if qu.Host != "" {
		queues = qu.Host + "-npw-*"
	}
	queueARN := fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, account, queues)
	// Jobs keep their tiles under jobs/; the Go API uploads matrices under
	// matrices/, which workers read in place and clients write.
	tiles := []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
	jobs, matrices := fmt.Sprintf("arn:aws:s3:::%s/%sjobs/*", su.Host, prefix), fmt.Sprintf("arn:aws:s3:::%s/%smatrices/*", su.Host, prefix)
	stmts := []statement{
		{Sid: "Tiles", Effect: "Allow", Action: tiles, Resource: []string{jobs}},
		{Sid: "ListTiles", Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{"arn:aws:s3:::" + su.Host},
			Condition: map[string]any{"StringLike": map[string]any{"s3:prefix": []string{prefix + "jobs/*", prefix + "matrices/*"}}}},
	}
	switch who {
	case "worker":
		stmts = append(stmts, statement{Sid: "Matrices", Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: []string{matrices}})
	case "client":
		stmts = append(stmts, statement{Sid: "Matrices", Effect: "Allow", Action: tiles, Resource: []string{matrices}})
	default: // a provisioner saves outputs to their URLs under the prefix
		stmts = append(stmts, statement{Sid: "Matrices", Effect: "Allow", Action: tiles, Resource: []string{fmt.Sprintf("arn:aws:s3:::%s/%s*", su.Host, prefix)}})
	}
	queueActions := []string{"sqs:ReceiveMessage", "sqs:SendMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
		"sqs:GetQueueUrl", "sqs:GetQueueAttributes"}
	logs := statement{Sid: "Logs", Effect: "Allow", Action: []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
		Resource: []string{fmt.Sprintf("arn:aws:logs:%s:%s:log-group:/aws/lambda/%s", region, account, function),
			fmt.Sprintf("arn:aws:logs:%s:%s:log-group:/aws/lambda/%s:*", region, account, function)}}
	if who == "worker" {
		stmts = append(stmts, statement{Sid: "JobQueues", Effect: "Allow", Action: queueActions, Resource: []string{queueARN}}, logs)
	} else {
		stmts = append(stmts,
			statement{Sid: "JobQueues", Effect: "Allow", Action: append(queueActions, "sqs:CreateQueue", "sqs:DeleteQueue"), Resource: []string{queueARN}},
			statement{Sid: "Workers", Effect: "Allow", Action: []string{"lambda:InvokeFunction", "lambda:GetFunction"},
				Resource: []string{fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, function)}})
	}
	if who == "provisioner" {
		stmts = append(stmts, logs)
	}
	return map[string]any{"Version": "2012-10-17", "Statement": stmts}, nil
}

// resolve fills the region and the account the flags leave out from the
// AWS configuration: the region it names, the account of its credentials
// (STS GetCallerIdentity). A policy for any region or account ('*') is
// printed only when asked for.
func (o *policyOptions) resolve() error {
	if o.region != "" && o.account != "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("the AWS configuration: %w", err)
	}
	if o.region == "" {
		if cfg.Region == "" {
			return usagef("--region: the AWS configuration names no region; give --region REGION, or --region '*' for any")
		}
		o.region = cfg.Region
	}
	if o.account == "" {
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || id.Account == nil || *id.Account == "" {
			why := "no account"
			if err != nil {
				why = awsconf.Describe(err)
			}
			return fmt.Errorf("--account: could not find the account of the AWS credentials (STS GetCallerIdentity: %s); give --account ID, or --account '*' for any", why)
		}
		o.account = *id.Account
	}
	return nil
}
