package seed

import (
	"math"
	"sort"

	"github.com/suanli/suanli/internal/core"
)

// The demo network (运力) joins the demo centers' regions and the four
// western national hub nodes of 东数西算, where a tenant's data may live.
//
// Published figures the demo follows:
//   - The 2021 plan (《全国一体化大数据中心协同创新体系算力枢纽实施方案》,
//     发改高技〔2021〕709号) set 8 national hub nodes: 京津冀, 长三角,
//     粤港澳大湾区, 成渝, 内蒙古, 贵州, 甘肃, 宁夏
//     (www.xhyb.net.cn/news/reping/2021/0527/151871.html).
//   - By the end of 2025, "1ms 时延城市算力网、5ms 时延区域算力网、20ms 时延
//     跨国家枢纽节点算力网" in demonstration areas: 《深入实施"东数西算"工程
//     加快构建全国一体化算力网的实施意见》(发改数据〔2023〕1779号; China
//     Daily, cn.chinadaily.com.cn/a/202312/29/WS658e096da310c2083e415113.html).
//   - CAICT's 2024 Q1 算力网络质量监测工作简报: optical latency between the
//     hubs' cluster cities all under 20 ms, 9.7 ms on average and 17.1 ms at
//     most; 751 Tbit/s of direct IP bandwidth between them at about 16%
//     utilization (china.idcdaohang.com/news/122.html reports the brief).
//
// A link's latency is derived, not invented: the great-circle distance
// between the two cities, times a fiber route factor, at the speed of
// light in fiber (5 µs per km), rounded up to a whole ms. That gives
// 1–15 ms for the pairs below, within the published 20 ms and close to
// CAICT's measured mean. Bandwidth is what one tenant's transfer can
// expect, not the backbone's total: a 100 Gbit/s wavelength (算力专线)
// between hub regions, 10 Gbit/s to Yichang, which is not a hub node and
// is reached over the ordinary backbone (both illustrative).

// place is a region's city, for distances.
type place struct {
	region   string
	lat, lon float64 // degrees
	hub      bool    // in a national hub node (国家算力枢纽节点)
}

// demoPlaces are the regions the demo centers use (see Demo), plus the
// western hubs' data-center cluster cities.
var demoPlaces = []place{
	{"beijing", 39.90, 116.40, true},                 // 京津冀 hub
	{"shanghai", 31.23, 121.47, true},                // 长三角 hub
	{"guangdong-guangzhou", 23.13, 113.26, true},     // 粤港澳大湾区 hub
	{"guangdong-zhongshan", 22.52, 113.39, true},     // 粤港澳大湾区 hub
	{"hubei-yichang", 30.69, 111.29, false},          // central China, not a hub node
	{"guizhou-guian", 26.40, 106.40, true},           // 贵州 hub: 贵安 cluster
	{"inner-mongolia-horinger", 40.38, 111.82, true}, // 内蒙古 hub: 和林格尔 cluster
	{"ningxia-zhongwei", 37.51, 105.19, true},        // 宁夏 hub: 中卫 cluster
	{"gansu-qingyang", 35.71, 107.64, true},          // 甘肃 hub: 庆阳 cluster
}

// Figures of the link model.
const (
	earthRadiusKm   = 6371.0
	fiberRouteRatio = 1.4   // fiber runs along roads and rail, not great circles
	fiberMsPerKm    = 0.005 // light in glass: about 200,000 km/s
	hubMbps         = 100_000
	backboneMbps    = 10_000
)

// DemoLinks links every pair of the demo places, each once, From < To.
func DemoLinks() []core.Link {
	links := make([]core.Link, 0, len(demoPlaces)*(len(demoPlaces)-1)/2)
	for i, a := range demoPlaces {
		for _, b := range demoPlaces[i+1:] {
			km := greatCircleKm(a, b) * fiberRouteRatio
			l := core.Link{From: a.region, To: b.region, LatencyMs: int64(math.Ceil(km * fiberMsPerKm)),
				BandwidthMbps: backboneMbps}
			if a.hub && b.hub {
				l.BandwidthMbps = hubMbps
			}
			if l.From > l.To {
				l.From, l.To = l.To, l.From
			}
			links = append(links, l)
		}
	}
	sort.Slice(links, func(i, j int) bool {
		if links[i].From != links[j].From {
			return links[i].From < links[j].From
		}
		return links[i].To < links[j].To
	})
	return links
}

// greatCircleKm is the haversine distance between two places.
func greatCircleKm(a, b place) float64 {
	rad := math.Pi / 180
	dLat, dLon := (b.lat-a.lat)*rad, (b.lon-a.lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.lat*rad)*math.Cos(b.lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(h))
}
