// Command npw runs dense linear algebra written in LAmbdaPACK on
// serverless workers. Run "npw help" for the commands. Inside AWS Lambda
// (provided.al2023) the same binary serves worker invocations.
package main

import "os"

func main() { os.Exit(start(os.Args[1:], os.Stdout, os.Stderr)) }
