package console

import (
	"fmt"
	"html/template"

	"github.com/suanli/suanli/internal/core"
)

// catalog is one language's messages. Templates call its methods as
// {{.L.T "key"}}; every visible string goes through it.
type catalog struct {
	lang     string // "zh" or "en"
	htmlLang string
	msgs     map[string]string
}

// T returns the message for key, or the key itself when it is missing (a
// test checks that both catalogs have every key the templates use).
func (c *catalog) T(key string) string {
	if s, ok := c.msgs[key]; ok {
		return s
	}
	return key
}

// F formats the message for key with args.
func (c *catalog) F(key string, args ...any) string { return fmt.Sprintf(c.T(key), args...) }

// Lang is "zh" or "en".
func (c *catalog) Lang() string { return c.lang }

// HTMLLang is the value of <html lang>.
func (c *catalog) HTMLLang() string { return c.htmlLang }

// Kind names a center kind: 智算/超算/通算 or AI/HPC/General.
func (c *catalog) Kind(k core.CenterKind) string { return c.T("kind." + string(k)) }

// KindUnit names the normalized unit of a kind's capacity.
func (c *catalog) KindUnit(k core.CenterKind) string {
	if k == core.KindAI {
		return "PFLOPS FP16"
	}
	return "PFLOPS FP64"
}

// State names a job state.
func (c *catalog) State(s core.JobState) string { return c.T("state." + string(s)) }

// Role names a role.
func (c *catalog) Role(r core.Role) string { return c.T("role." + string(r)) }

// TransferCode names why a transfer happened.
func (c *catalog) TransferCode(code string) string {
	if s, ok := c.msgs["transfer."+code]; ok {
		return s
	}
	return code
}

// StateBadge is a colored badge for a job state.
func (c *catalog) StateBadge(s core.JobState) template.HTML {
	return template.HTML(fmt.Sprintf(`<span class="badge state-%s">%s</span>`,
		template.HTMLEscapeString(string(s)), template.HTMLEscapeString(c.State(s))))
}

// ExecBadge labels a center's executor. Simulated centers are always
// marked so that nobody mistakes modelled capacity for a real one.
func (c *catalog) ExecBadge(executor string) template.HTML {
	cls, key := "exec-other", ""
	switch executor {
	case core.ExecutorSimulated:
		cls, key = "exec-sim", "exec.simulated"
	case core.ExecutorLocal:
		cls, key = "exec-local", "exec.local"
	case core.ExecutorAgent:
		cls, key = "exec-agent", "exec.agent"
	}
	label := executor
	if key != "" {
		label = c.T(key)
	}
	return template.HTML(fmt.Sprintf(`<span class="badge %s" title="%s">%s</span>`, cls,
		template.HTMLEscapeString(executor), template.HTMLEscapeString(label)))
}

// StatusBadge labels a center status.
func (c *catalog) StatusBadge(status string) template.HTML {
	cls, label := "status-down", status
	if status == core.CenterAvailable {
		cls = "status-ok"
	}
	if s, ok := c.msgs["center.status."+status]; ok {
		label = s
	}
	return template.HTML(fmt.Sprintf(`<span class="badge %s">%s</span>`, cls, template.HTMLEscapeString(label)))
}

// YesNo renders a boolean.
func (c *catalog) YesNo(b bool) string {
	if b {
		return c.T("common.yes")
	}
	return c.T("common.no")
}

var catalogs = map[string]*catalog{
	"zh": {lang: "zh", htmlLang: "zh-CN", msgs: zhMessages},
	"en": {lang: "en", htmlLang: "en", msgs: enMessages},
}

var enMessages = map[string]string{
	"app.name":    "suanli",
	"app.tagline": "Compute power network console",

	"nav.overview": "Overview",
	"nav.centers":  "Centers",
	"nav.jobs":     "Jobs",
	"nav.wallet":   "Wallet",
	"nav.logout":   "Sign out",
	"nav.language": "Language",

	"role.operator": "Operator",
	"role.provider": "Provider",
	"role.tenant":   "Tenant",

	"kind.ai":      "AI",
	"kind.hpc":     "HPC",
	"kind.general": "General",

	"state.queued":    "Queued",
	"state.scheduled": "Scheduled",
	"state.running":   "Running",
	"state.succeeded": "Succeeded",
	"state.failed":    "Failed",
	"state.cancelled": "Cancelled",
	"state.timed-out": "Timed out",

	"exec.simulated": "simulated",
	"exec.local":     "local (real)",
	"exec.agent":     "agent (real)",

	"center.status.available":   "Available",
	"center.status.unavailable": "Unavailable",

	"common.yes":   "Yes",
	"common.no":    "No",
	"common.none":  "—",
	"common.all":   "All",
	"common.prev":  "← Previous",
	"common.next":  "Next →",
	"common.apply": "Apply",
	"common.range": "%d–%d of %d",
	"common.empty": "Nothing here yet.",
	"common.yuan":  "CNY",

	"login.title":     "Sign in",
	"login.intro":     "Sign in with an API token issued by the platform operator.",
	"login.token":     "API token",
	"login.submit":    "Sign in",
	"login.bad_token": "The token is not valid.",
	"login.bad_form":  "The form could not be read.",

	"error.title":     "Error",
	"error.internal":  "Internal error. It has been logged; please try again later.",
	"error.not_found": "Not found.",
	"error.invalid":   "Invalid request.",
	"error.conflict":  "The request conflicts with the current state.",
	"error.forbidden": "You may not do this.",
	"error.home":      "Back to the overview",

	"overview.title":        "Overview",
	"overview.schedulable":  "Schedulable capacity",
	"overview.centers_n":    "%d centers",
	"overview.util_kind":    "%s allocated",
	"overview.utilization":  "Overall utilization",
	"overview.util_note":    "allocated / schedulable PFLOPS",
	"overview.queue":        "Queue length",
	"overview.queue_note":   "queued jobs",
	"overview.running":      "%d running",
	"overview.revenue":      "Revenue today",
	"overview.revenue_note": "commission %s · providers %s CNY",
	"overview.spend":        "Spend today",
	"overview.spend_note":   "jobs finished today",
	"overview.payable":      "Payable balance",
	"overview.payable_note": "owed to you by the platform",
	"overview.by_region":    "Schedulable capacity by region",
	"overview.region":       "Region",
	"overview.total":        "Total",
	"overview.jobs_state":   "Jobs by state",
	"overview.hourly":       "Last 24 hours",
	"overview.hourly_rev":   "Revenue (CNY)",
	"overview.hourly_jobs":  "Finished jobs",
	"overview.jobs_chart":   "Jobs",
	"overview.centers":      "Centers",
	"overview.all_centers":  "All centers →",

	"centers.title":       "Compute centers",
	"centers.name":        "Center",
	"centers.kind":        "Kind",
	"centers.region":      "Region",
	"centers.executor":    "Executor",
	"centers.status":      "Status",
	"centers.nodes":       "Nodes ready / total",
	"centers.accel":       "Accelerators",
	"centers.capacity":    "Capacity P",
	"centers.schedulable": "Schedulable P",
	"centers.util":        "Utilization",
	"centers.pue":         "PUE",
	"centers.green":       "Green power",
	"centers.domestic":    "Domestic",
	"centers.prices":      "Prices (CNY)",
	"centers.card_hour":   "/card-h",
	"centers.core_hour":   "/core-h",
	"centers.mem_hour":    "/GiB-h",
	"centers.note":        "Capacity is normalized: AI centers in PFLOPS FP16 dense, HPC and general centers in PFLOPS FP64. Simulated centers model published capacity; only local centers run real processes.",
	"centers.none":        "No centers are registered.",

	"jobs.title":     "Jobs",
	"jobs.filter":    "Filter",
	"jobs.state":     "State",
	"jobs.center":    "Center",
	"jobs.id":        "ID",
	"jobs.name":      "Name",
	"jobs.replicas":  "Replicas",
	"jobs.accel":     "Accelerators",
	"jobs.submitted": "Submitted",
	"jobs.duration":  "Duration",
	"jobs.cost":      "Cost (CNY)",
	"jobs.exit":      "Exit",
	"jobs.none":      "No jobs match.",
	"jobs.bad_state": "unknown job state",

	"job.title":          "Job %s",
	"job.spec":           "Specification",
	"job.tenant":         "Tenant",
	"job.priority":       "Priority",
	"job.max_duration":   "Max duration",
	"job.sim_duration":   "Declared duration (simulated)",
	"job.command":        "Command",
	"job.constraints":    "Constraints",
	"job.any":            "any",
	"job.domestic_only":  "domestic chips only",
	"job.replica":        "Replica",
	"job.models":         "Models",
	"job.cards":          "Cards",
	"job.cpu":            "CPU cores",
	"job.mem":            "Memory MiB",
	"job.status":         "Status",
	"job.reason":         "Reason",
	"job.attempt":        "Attempt",
	"job.scheduled":      "Scheduled",
	"job.started":        "Started",
	"job.finished":       "Finished",
	"job.hold":           "Held at submission",
	"job.cost":           "Cost",
	"job.usage":          "Usage (replica time)",
	"job.placements":     "Placements",
	"job.node":           "Node",
	"job.model":          "Model",
	"job.rate":           "Rate (CNY/h)",
	"job.events":         "Events",
	"job.time":           "Time",
	"job.type":           "Type",
	"job.message":        "Message",
	"job.logs":           "Logs",
	"job.logs_empty":     "No output.",
	"job.logs_cut":       "Showing the last %d KiB.",
	"job.cancel":         "Cancel job",
	"job.cancel_confirm": "Cancel this job?",
	"job.cancel_asked":   "Cancel requested; the replicas are being stopped.",
	"job.live":           "Refreshing every 2 s",
	"job.none":           "None yet.",

	"wallet.title":        "Wallet",
	"wallet.available":    "Available",
	"wallet.held":         "Held",
	"wallet.held_note":    "reserved for running jobs",
	"wallet.spent":        "Spent (posted)",
	"wallet.credited":     "Topped up",
	"wallet.commission":   "Commission",
	"wallet.escrow":       "Escrow",
	"wallet.escrow_note":  "holds in flight",
	"wallet.payable":      "Payable",
	"wallet.payable_note": "earned, not yet paid out",
	"wallet.account":      "Account",
	"wallet.transfers":    "Recent transfers",
	"wallet.time":         "Time",
	"wallet.type":         "Type",
	"wallet.from":         "From (debit)",
	"wallet.to":           "To (credit)",
	"wallet.amount":       "Amount (CNY)",
	"wallet.job":          "Job",
	"wallet.none":         "No transfers yet.",
	"wallet.pending":      "pending",
	"wallet.posted":       "posted",
	"wallet.voided":       "released",

	"transfer.hold":           "Hold",
	"transfer.capture":        "Charge",
	"transfer.provider_share": "Provider share",
	"transfer.commission":     "Commission",
	"transfer.topup":          "Top-up",

	"nav.settlement":        "Settlement",
	"settle.title":          "Settlement",
	"settle.month":          "Month",
	"settle.prev":           "← Previous month",
	"settle.next":           "Next month →",
	"settle.show":           "Show",
	"settle.draft":          "Draft: the month has not ended; amounts may still change",
	"settle.final":          "Final: the month has ended",
	"settle.charges":        "Charges (incl. VAT)",
	"settle.refunds":        "Refunds",
	"settle.total":          "Total",
	"settle.total_incl":     "Total incl. tax",
	"settle.wallet":         "Paid from wallet",
	"settle.voucher":        "Paid by voucher",
	"settle.arrears":        "Arrears (due)",
	"settle.vat":            "VAT",
	"settle.commission":     "Commission",
	"settle.provider_share": "Provider share",
	"settle.payable":        "Net payable",
	"settle.payouts":        "Paid out",
	"settle.invoice":        "Invoice",
	"settle.invoice_no":     "Invoice no.",
	"settle.invoice_title":  "Compute services statement and invoice data",
	"settle.no_invoice":     "No charges this month, so no invoice.",
	"settle.printable":      "Printable invoice",
	"settle.csv":            "Download CSV",
	"settle.service":        "Service",
	"settle.model":          "Model",
	"settle.unit":           "Unit",
	"settle.quantity":       "Quantity",
	"settle.unit_price":     "Unit price (excl. tax)",
	"settle.amount":         "Amount (excl. tax)",
	"settle.rate":           "Tax rate",
	"settle.tax":            "Tax",
	"settle.jobs":           "Jobs",
	"settle.job":            "Job",
	"settle.name":           "Name",
	"settle.center":         "Center",
	"settle.more_jobs":      "Showing %d of %d jobs; the totals cover all of them.",
	"settle.seller":         "Seller",
	"settle.buyer":          "Buyer",
	"settle.taxid":          "Taxpayer ID",
	"settle.rounding":       "Rounding to fen",
	"settle.exact":          "Exact (CNY 0.000001)",
	"settle.print_note":     "Print with your browser (Ctrl+P); navigation is left out of the printout.",
	"settle.back":           "Back",
	"settle.settlement":     "Settlement",
	"settle.statement":      "Settlement statement",
	"settle.statements":     "Provider statements",
	"settle.provider":       "Provider",
	"settle.status":         "Status",
	"settle.status.draft":   "Draft",
	"settle.status.open":    "Open",
	"settle.status.paid":    "Paid",
	"settle.centers":        "By center",
	"settle.tenants":        "By tenant",
	"settle.receivables":    "Receivables",
	"settle.opening":        "Opening",
	"settle.accrued":        "Accrued",
	"settle.received":       "Received",
	"settle.written_off":    "Written off",
	"settle.closing":        "Closing",
	"settle.report":         "Operator report",
	"settle.redemptions":    "Voucher redemptions",
	"settle.scheme":         "Voucher scheme",
	"settle.issuer":         "Issuer",
	"settle.share":          "Share",
	"settle.reconciled":     "Reconciles with the ledger",
	"settle.not_reconciled": "Does not reconcile with the ledger",
	"settle.ledger":         "Ledger",
	"settle.no_schemes":     "No voucher schemes yet.",
	"settle.none":           "Nothing this month.",
	"settle.pay":            "Mark paid",
	"settle.reference":      "Bank reference",
	"settle.paid_by":        "Paid ¥%s, reference %s, at %s",
	"settle.paid_now":       "The payout was recorded.",
	"settle.cannot_pay":     "Cannot be paid now",
	"settle.view":           "View",
	"settle.invoice_note":   "Amounts in CNY. Unit prices exclude tax, to CNY 0.000001. Quantities are billed card-hours or core-hours (billed per second). Line amounts and tax are cut from the running total, so they add up to the total exactly.",
}

var zhMessages = map[string]string{
	"app.name":    "算力网",
	"app.tagline": "算力调度运营和交易结算平台",

	"nav.overview": "总览",
	"nav.centers":  "算力中心",
	"nav.jobs":     "作业",
	"nav.wallet":   "钱包",
	"nav.logout":   "退出",
	"nav.language": "语言",

	"role.operator": "平台运营方",
	"role.provider": "算力提供方",
	"role.tenant":   "用户企业",

	"kind.ai":      "智算",
	"kind.hpc":     "超算",
	"kind.general": "通算",

	"state.queued":    "排队中",
	"state.scheduled": "已调度",
	"state.running":   "运行中",
	"state.succeeded": "成功",
	"state.failed":    "失败",
	"state.cancelled": "已取消",
	"state.timed-out": "超时",

	"exec.simulated": "模拟",
	"exec.local":     "本地（真实）",
	"exec.agent":     "代理（真实）",

	"center.status.available":   "可用",
	"center.status.unavailable": "不可用",

	"common.yes":   "是",
	"common.no":    "否",
	"common.none":  "—",
	"common.all":   "全部",
	"common.prev":  "← 上一页",
	"common.next":  "下一页 →",
	"common.apply": "筛选",
	"common.range": "第 %d–%d 条，共 %d 条",
	"common.empty": "暂无数据。",
	"common.yuan":  "元",

	"login.title":     "登录",
	"login.intro":     "请使用平台运营方签发的 API 令牌登录。",
	"login.token":     "API 令牌",
	"login.submit":    "登录",
	"login.bad_token": "令牌无效。",
	"login.bad_form":  "无法读取表单。",

	"error.title":     "出错了",
	"error.internal":  "内部错误，已记录日志，请稍后再试。",
	"error.not_found": "未找到。",
	"error.invalid":   "请求无效。",
	"error.conflict":  "请求与当前状态冲突。",
	"error.forbidden": "无权执行此操作。",
	"error.home":      "返回总览",

	"overview.title":        "总览",
	"overview.schedulable":  "可调度算力",
	"overview.centers_n":    "%d 个中心",
	"overview.util_kind":    "已分配 %s",
	"overview.utilization":  "总体利用率",
	"overview.util_note":    "已分配 / 可调度 PFLOPS",
	"overview.queue":        "排队长度",
	"overview.queue_note":   "排队中的作业",
	"overview.running":      "%d 个运行中",
	"overview.revenue":      "今日收入",
	"overview.revenue_note": "佣金 %s · 提供方 %s 元",
	"overview.spend":        "今日消费",
	"overview.spend_note":   "今日结束的作业",
	"overview.payable":      "应付余额",
	"overview.payable_note": "平台应付给您的金额",
	"overview.by_region":    "各地区可调度算力",
	"overview.region":       "地区",
	"overview.total":        "合计",
	"overview.jobs_state":   "各状态作业数",
	"overview.hourly":       "最近 24 小时",
	"overview.hourly_rev":   "收入（元）",
	"overview.hourly_jobs":  "完成作业数",
	"overview.jobs_chart":   "作业",
	"overview.centers":      "算力中心",
	"overview.all_centers":  "全部中心 →",

	"centers.title":       "算力中心",
	"centers.name":        "中心",
	"centers.kind":        "类型",
	"centers.region":      "地区",
	"centers.executor":    "执行方式",
	"centers.status":      "状态",
	"centers.nodes":       "就绪 / 总节点",
	"centers.accel":       "加速卡",
	"centers.capacity":    "总算力 P",
	"centers.schedulable": "可调度 P",
	"centers.util":        "利用率",
	"centers.pue":         "PUE",
	"centers.green":       "绿电占比",
	"centers.domestic":    "国产",
	"centers.prices":      "价格（元）",
	"centers.card_hour":   "/卡时",
	"centers.core_hour":   "/核时",
	"centers.mem_hour":    "/GiB时",
	"centers.note":        "算力已归一化：智算按 FP16 稠密 PFLOPS，超算与通算按 FP64 PFLOPS。模拟中心按公开数据建模；只有本地中心运行真实进程。",
	"centers.none":        "尚未注册算力中心。",

	"jobs.title":     "作业",
	"jobs.filter":    "筛选",
	"jobs.state":     "状态",
	"jobs.center":    "中心",
	"jobs.id":        "ID",
	"jobs.name":      "名称",
	"jobs.replicas":  "副本数",
	"jobs.accel":     "加速卡",
	"jobs.submitted": "提交时间",
	"jobs.duration":  "时长",
	"jobs.cost":      "费用（元）",
	"jobs.exit":      "退出码",
	"jobs.none":      "没有符合条件的作业。",
	"jobs.bad_state": "未知的作业状态",

	"job.title":          "作业 %s",
	"job.spec":           "作业规格",
	"job.tenant":         "租户",
	"job.priority":       "优先级",
	"job.max_duration":   "最长运行时间",
	"job.sim_duration":   "声明时长（模拟）",
	"job.command":        "命令",
	"job.constraints":    "约束",
	"job.any":            "不限",
	"job.domestic_only":  "仅国产芯片",
	"job.replica":        "副本",
	"job.models":         "型号",
	"job.cards":          "卡数",
	"job.cpu":            "CPU 核",
	"job.mem":            "内存 MiB",
	"job.status":         "状态",
	"job.reason":         "原因",
	"job.attempt":        "尝试次数",
	"job.scheduled":      "调度时间",
	"job.started":        "开始时间",
	"job.finished":       "结束时间",
	"job.hold":           "提交时冻结",
	"job.cost":           "费用",
	"job.usage":          "用量（副本时间）",
	"job.placements":     "放置",
	"job.node":           "节点",
	"job.model":          "型号",
	"job.rate":           "单价（元/小时）",
	"job.events":         "事件",
	"job.time":           "时间",
	"job.type":           "类型",
	"job.message":        "消息",
	"job.logs":           "日志",
	"job.logs_empty":     "无输出。",
	"job.logs_cut":       "仅显示最后 %d KiB。",
	"job.cancel":         "取消作业",
	"job.cancel_confirm": "确定取消此作业？",
	"job.cancel_asked":   "已请求取消，正在停止副本。",
	"job.live":           "每 2 秒刷新",
	"job.none":           "暂无。",

	"wallet.title":        "钱包",
	"wallet.available":    "可用余额",
	"wallet.held":         "冻结",
	"wallet.held_note":    "为运行中作业预留",
	"wallet.spent":        "已消费（已入账）",
	"wallet.credited":     "累计充值",
	"wallet.commission":   "佣金",
	"wallet.escrow":       "托管",
	"wallet.escrow_note":  "结算中的冻结款",
	"wallet.payable":      "应付款",
	"wallet.payable_note": "已赚取、尚未支付",
	"wallet.account":      "账户",
	"wallet.transfers":    "最近转账",
	"wallet.time":         "时间",
	"wallet.type":         "类型",
	"wallet.from":         "借方",
	"wallet.to":           "贷方",
	"wallet.amount":       "金额（元）",
	"wallet.job":          "作业",
	"wallet.none":         "暂无转账。",
	"wallet.pending":      "冻结中",
	"wallet.posted":       "已入账",
	"wallet.voided":       "已释放",

	"transfer.hold":           "冻结",
	"transfer.capture":        "扣款",
	"transfer.provider_share": "提供方分成",
	"transfer.commission":     "佣金",
	"transfer.topup":          "充值",

	"nav.settlement":        "结算",
	"settle.title":          "结算",
	"settle.month":          "月份",
	"settle.prev":           "← 上月",
	"settle.next":           "下月 →",
	"settle.show":           "查看",
	"settle.draft":          "草稿：本月尚未结束，金额可能变化",
	"settle.final":          "已结账：本月已结束",
	"settle.charges":        "交易额（含税）",
	"settle.refunds":        "退款",
	"settle.total":          "合计",
	"settle.total_incl":     "价税合计",
	"settle.wallet":         "钱包支付",
	"settle.voucher":        "算力券支付",
	"settle.arrears":        "欠款（待支付）",
	"settle.vat":            "增值税",
	"settle.commission":     "平台佣金",
	"settle.provider_share": "提供方分成",
	"settle.payable":        "应付净额",
	"settle.payouts":        "已支付",
	"settle.invoice":        "发票",
	"settle.invoice_no":     "发票号码",
	"settle.invoice_title":  "算力服务结算单 · 发票信息",
	"settle.no_invoice":     "本月无交易，无发票。",
	"settle.printable":      "打印发票",
	"settle.csv":            "下载 CSV",
	"settle.service":        "项目名称",
	"settle.model":          "规格型号",
	"settle.unit":           "单位",
	"settle.quantity":       "数量",
	"settle.unit_price":     "单价（不含税）",
	"settle.amount":         "金额（不含税）",
	"settle.rate":           "税率",
	"settle.tax":            "税额",
	"settle.jobs":           "作业",
	"settle.job":            "作业",
	"settle.name":           "名称",
	"settle.center":         "算力中心",
	"settle.more_jobs":      "显示 %d / %d 个作业；合计包含全部作业。",
	"settle.seller":         "销售方",
	"settle.buyer":          "购买方",
	"settle.taxid":          "纳税人识别号",
	"settle.rounding":       "分位舍入",
	"settle.exact":          "精确值（0.000001 元）",
	"settle.print_note":     "请使用浏览器打印（Ctrl+P）；打印时不含导航。",
	"settle.back":           "返回",
	"settle.settlement":     "结算明细",
	"settle.statement":      "结算单",
	"settle.statements":     "提供方结算单",
	"settle.provider":       "提供方",
	"settle.status":         "状态",
	"settle.status.draft":   "草稿",
	"settle.status.open":    "待支付",
	"settle.status.paid":    "已支付",
	"settle.centers":        "按算力中心",
	"settle.tenants":        "按用户企业",
	"settle.receivables":    "应收款",
	"settle.opening":        "期初",
	"settle.accrued":        "本期应收",
	"settle.received":       "本期收款",
	"settle.written_off":    "核销",
	"settle.closing":        "期末",
	"settle.report":         "运营报表",
	"settle.redemptions":    "算力券兑付",
	"settle.scheme":         "算力券",
	"settle.issuer":         "发放机构",
	"settle.share":          "补贴比例",
	"settle.reconciled":     "与账本一致",
	"settle.not_reconciled": "与账本不一致",
	"settle.ledger":         "账本核对",
	"settle.no_schemes":     "暂无算力券。",
	"settle.none":           "本月无记录。",
	"settle.pay":            "标记已支付",
	"settle.reference":      "银行流水号",
	"settle.paid_by":        "已支付 ¥%s，流水号 %s，时间 %s",
	"settle.paid_now":       "已记录支付。",
	"settle.cannot_pay":     "暂不可支付",
	"settle.view":           "查看",
	"settle.invoice_note":   "金额单位：人民币元。单价不含税，精确到 0.000001 元；数量为按秒计费折算的卡时或核时。各行金额与税额按累计总额切分，合计与总额完全一致。",
}
