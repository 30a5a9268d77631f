package prommetrics_test

import "go.temporal.io/api/workflowservice/v1"

func describeRequest() *workflowservice.DescribeNamespaceRequest {
	return &workflowservice.DescribeNamespaceRequest{Namespace: "default"}
}
