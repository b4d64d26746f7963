# The Jobhooks dashboard (Monitoring > Dashboards > "Jobhooks"): what happened to deliveries,
# how fast, what is waiting, and what was given up on.

locals {
  percentiles = { "p50" = "REDUCE_PERCENTILE_50", "p95" = "REDUCE_PERCENTILE_95", "p99" = "REDUCE_PERCENTILE_99" }

  # One chart: title, then the data sets.
  dashboard_charts = [
    {
      title = "Delivery attempts by outcome (per second)"
      sets = [{
        filter  = local.attempts_metric
        aligner = "ALIGN_RATE"
        reducer = "REDUCE_SUM"
        group   = ["metric.label.outcome"]
        plot    = "STACKED_BAR"
        legend  = "$${metric.labels.outcome}"
      }]
    },
    {
      title = "Delivered per second, by tenant project"
      sets = [{
        filter  = "${local.attempts_metric} AND metric.label.outcome=\"delivered\""
        aligner = "ALIGN_RATE"
        reducer = "REDUCE_SUM"
        group   = ["metric.label.project"]
        plot    = "LINE"
        legend  = "$${metric.labels.project}"
      }]
    },
    {
      title = "Attempt latency (ms): p50, p95, p99"
      sets = [for name, reducer in local.percentiles : {
        filter  = local.latency_metric
        aligner = "ALIGN_DELTA"
        reducer = reducer
        group   = []
        plot    = "LINE"
        legend  = name
      }]
    },
    {
      title = "End-to-end latency, event to delivered (ms): p50, p95, p99"
      sets = [for name, reducer in local.percentiles : {
        filter  = local.e2e_metric
        aligner = "ALIGN_DELTA"
        reducer = reducer
        group   = []
        plot    = "LINE"
        legend  = name
      }]
    },
    {
      title = "Backlog: undelivered messages per subscription"
      sets = [{
        filter  = "${local.all_subscriptions} AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
        aligner = "ALIGN_MAX"
        reducer = "REDUCE_SUM"
        group   = ["resource.label.subscription_id"]
        plot    = "LINE"
        legend  = "$${resource.labels.subscription_id}"
      }]
    },
    {
      title = "Oldest unacked message age (s) per subscription"
      sets = [{
        filter  = "${local.all_subscriptions} AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
        aligner = "ALIGN_MAX"
        reducer = "REDUCE_MAX"
        group   = ["resource.label.subscription_id"]
        plot    = "LINE"
        legend  = "$${resource.labels.subscription_id}"
      }]
    },
    {
      title = "Dead letters by kind and reason"
      sets = [{
        filter  = local.dead_letter_metric
        aligner = "ALIGN_DELTA"
        reducer = "REDUCE_SUM"
        group   = ["metric.label.kind", "metric.label.reason"]
        plot    = "STACKED_BAR"
        legend  = "$${metric.labels.kind} $${metric.labels.reason}"
      }]
    },
    {
      title = "Function requests by function and response class"
      sets = [{
        filter  = "resource.type=\"cloud_run_revision\" AND resource.label.service_name=starts_with(\"${var.name_prefix}jobhooks-\") AND metric.type=\"run.googleapis.com/request_count\""
        aligner = "ALIGN_RATE"
        reducer = "REDUCE_SUM"
        group   = ["resource.label.service_name", "metric.label.response_code_class"]
        plot    = "LINE"
        legend  = "$${resource.labels.service_name} $${metric.labels.response_code_class}"
      }]
    },
  ]
}

resource "google_monitoring_dashboard" "jobhooks" {
  dashboard_json = jsonencode({
    displayName = "Jobhooks${var.name_prefix == "" ? "" : " (${trimsuffix(var.name_prefix, "-")})"}"
    mosaicLayout = {
      columns = 48
      # The API drops xPos/yPos of 0 and an empty groupByFields, so they are written only when
      # set; otherwise every plan would show the dashboard as changed.
      tiles = [for i, chart in local.dashboard_charts : merge(
        { for k, v in { xPos = (i % 2) * 24, yPos = floor(i / 2) * 16 } : k => v if v != 0 },
        {
          width  = 24
          height = 16
          widget = {
            title = chart.title
            xyChart = {
              chartOptions = { mode = "COLOR" }
              dataSets = [for set in chart.sets : {
                plotType           = set.plot
                legendTemplate     = set.legend
                minAlignmentPeriod = "60s"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = set.filter
                    aggregation = merge(
                      {
                        alignmentPeriod    = "60s"
                        perSeriesAligner   = set.aligner
                        crossSeriesReducer = set.reducer
                      },
                      { for k, v in { groupByFields = set.group } : k => v if length(v) > 0 },
                    )
                  }
                }
              }]
              yAxis = { scale = "LINEAR" }
            }
          }
      })]
    }
  })

  depends_on = [terraform_data.apis_propagated]
}
