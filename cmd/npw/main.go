// Command npw runs dense linear algebra written in LAmbdaPACK on
// serverless workers. Run "npw help" for the commands.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
