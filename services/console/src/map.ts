// A map of points (Leaflet, from the pinned npm package). The tiles come from the city's
// configured tile server; without them (offline, blocked, none configured) the map still shows
// the points on a blank background, and every screen that uses it has a list beside it.
import * as L from "leaflet";
import { h } from "./dom";
import { t } from "./i18n";

export interface MapPoint {
  id: string;
  latitude: number;
  longitude: number;
  label: string;
  open: boolean; // drawn filled; closed points are drawn hollow
}

export interface MapSettings {
  tile_url: string;
  attribution: string;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// Renders `points` into a new element; `select` is called with a point's id when it is clicked.
// The returned element must be in the document before `show()` is called (Leaflet measures it).
export function pointsMap(
  label: string,
  points: MapPoint[],
  settings: MapSettings | undefined,
  select: (id: string) => void,
): { element: HTMLElement; show: () => void; remove: () => void } {
  const container = h("div", { class: "map", id: "report-map" });
  const element = h(
    "section",
    { class: "map-section", "aria-label": label },
    container,
    h("p", { class: "note" }, t().mapNote),
  );
  let map: L.Map | null = null;
  const show = () => {
    map = L.map(container, { attributionControl: true, zoomControl: true });
    // Leaflet's attribution is HTML: the configured text goes in as text.
    map.attributionControl.setPrefix(false);
    const tileUrl = settings?.tile_url ?? "";
    if (tileUrl) {
      L.tileLayer(tileUrl, {
        maxZoom: 19,
        attribution: escapeHtml(settings?.attribution ?? ""),
        crossOrigin: false,
      }).addTo(map);
    }
    const bounds: L.LatLngExpression[] = [];
    for (const p of points) {
      const at: L.LatLngExpression = [p.latitude, p.longitude];
      bounds.push(at);
      L.circleMarker(at, {
        radius: 8,
        color: "#0b5394",
        weight: 2,
        fillColor: "#0b5394",
        fillOpacity: p.open ? 0.8 : 0.1,
      })
        .bindTooltip(p.label)
        .on("click", () => select(p.id))
        .addTo(map);
    }
    if (bounds.length > 0) map.fitBounds(L.latLngBounds(bounds), { maxZoom: 16, padding: [24, 24] });
    else map.setView([51.1657, 10.4515], 6); // Germany, until there is something to show
  };
  return { element, show, remove: () => map?.remove() };
}
