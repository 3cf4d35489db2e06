// Deep zoom on a catalogue image: drag to pan, wheel, pinch, buttons or keys (+ - 0, arrows) to zoom.
// The stored image is shown at once; where the record has a IIIF Image API service (level 1 or 2,
// or level 0 with tiles), the visible tiles are fetched from it at screen resolution whenever the
// view settles.

export function zoomable(container, base, { width, height, iiif }) {
  const stage = document.createElement("div");
  stage.className = "zoom-stage";
  stage.append(base);
  container.replaceChildren(stage);
  container.style.aspectRatio = `${width} / ${height}`;
  const tiled = iiif && (iiif.image_api_level >= 1 || (iiif.tile_width && iiif.scale_factors.length));
  const service = tiled && iiif.image_service && iiif.image_width ? iiif : null;
  const fullWidth = service ? service.image_width : width;
  const layer = document.createElement("div"); // IIIF tiles, between the stored image and the outline
  layer.className = "zoom-tiles";
  base.insertBefore(layer, base.querySelector("svg"));
  let scale = 1, x = 0, y = 0, timer = null;
  const size = () => [container.clientWidth || 1, container.clientHeight || 1];
  const maxScale = () => Math.max(4, (2 * fullWidth) / size()[0]);

  function apply() {
    const [w, h] = size();
    x = Math.min(0, Math.max(w - w * scale, x));
    y = Math.min(0, Math.max(h - h * scale, y));
    stage.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
    container.dataset.scale = scale.toFixed(2);
    clearTimeout(timer);
    timer = setTimeout(sharpen, 250);
  }

  function zoomAt(factor, cx, cy) {
    const next = Math.min(maxScale(), Math.max(1, scale * factor));
    x = cx - ((cx - x) * next) / scale;
    y = cy - ((cy - y) * next) / scale;
    scale = next;
    apply();
  }

    // The tiles of the view from the IIIF service, at the scale the screen shows: level 1-2 servers
  // cut any region, level 0 only the tiles its info.json lists. Tiles of the current scale are
  // kept (panning back costs nothing); the others go once the current ones have loaded.
  function sharpen() {
    const [w, h] = size();
    const dpr = window.devicePixelRatio || 1;
    if (!service || w * scale * dpr <= width) {
      layer.replaceChildren();
      return;
    }
    const fullW = service.image_width, fullH = service.image_height;
    const factor = scaleFactor(fullW / (w * scale * dpr));
    const tileW = (service.tile_width || 512) * factor, tileH = (service.tile_height || service.tile_width || 512) * factor;
    const k = fullW / w; // full-image pixels per unscaled container pixel
    const [left, top] = [(-x / scale) * k, (-y / scale) * k];
    const [right, bottom] = [left + (w / scale) * k, top + (h / scale) * k];
    const wanted = [];
    for (let ty = Math.floor(top / tileH) * tileH; ty < Math.min(bottom, fullH); ty += tileH) {
      for (let tx = Math.floor(left / tileW) * tileW; tx < Math.min(right, fullW); tx += tileW) {
        wanted.push([tx, ty, Math.min(tileW, fullW - tx), Math.min(tileH, fullH - ty)]);
      }
    }
    const keep = new Set();
    let pending = 0;
    for (const [tx, ty, tw, th] of wanted.slice(0, 64)) {
      const pixels = [Math.ceil(tw / factor), Math.ceil(th / factor)];
      const sizeParam = service.image_api_version >= 3 ? pixels.join(",") : `${pixels[0]},`;
      const src = `${service.image_service}/${tx},${ty},${tw},${th}/${sizeParam}/0/default.jpg`;
      keep.add(src);
      if (layer.querySelector(`img[data-src="${CSS.escape(src)}"]`)) continue;
      const img = document.createElement("img");
      img.className = "zoom-tile";
      img.alt = "";
      img.dataset.src = src;
      img.dataset.factor = factor;
      Object.assign(img.style, {
        left: `${(100 * tx) / fullW}%`, top: `${(100 * ty) / fullH}%`,
        width: `${(100 * tw) / fullW}%`, height: `${(100 * th) / fullH}%`,
      });
      pending += 1;
      img.addEventListener("load", () => {
        pending -= 1;
        if (pending === 0) {
          for (const old of layer.querySelectorAll("img")) if (old.dataset.factor !== String(factor)) old.remove();
        }
      }, { once: true });
      img.src = src;
      layer.append(img);
    }
  }

  // The largest scale factor whose tiles still have at least the pixels the screen shows.
  function scaleFactor(ratio) {
    const offered = service.scale_factors && service.scale_factors.length ? service.scale_factors
      : [1, 2, 4, 8, 16, 32, 64];
    const fitting = offered.filter((f) => f <= Math.max(1, ratio));
    return fitting.length ? Math.max(...fitting) : Math.min(...offered);
  }

  const pointers = new Map();
  let pinch = null;
  container.addEventListener("pointerdown", (event) => {
    container.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, [event.offsetX, event.offsetY, event.clientX, event.clientY]);
  });
  container.addEventListener("pointermove", (event) => {
    const last = pointers.get(event.pointerId);
    if (!last) return;
    pointers.set(event.pointerId, [last[0], last[1], event.clientX, event.clientY]);
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const distance = Math.hypot(a[2] - b[2], a[3] - b[3]);
      const box = container.getBoundingClientRect();
      if (pinch) zoomAt(distance / pinch, (a[2] + b[2]) / 2 - box.left, (a[3] + b[3]) / 2 - box.top);
      pinch = distance;
    } else {
      x += event.clientX - last[2];
      y += event.clientY - last[3];
      apply();
    }
  });
  const release = (event) => {
    pointers.delete(event.pointerId);
    pinch = null;
  };
  container.addEventListener("pointerup", release);
  container.addEventListener("pointercancel", release);
  container.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = container.getBoundingClientRect();
    zoomAt(event.deltaY < 0 ? 1.25 : 0.8, event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });
  const center = () => size().map((v) => v / 2);
  const controls = {
    zoomIn: () => zoomAt(1.5, ...center()),
    zoomOut: () => zoomAt(1 / 1.5, ...center()),
    reset: () => { scale = 1; x = 0; y = 0; apply(); },
  };
  container.addEventListener("keydown", (event) => {
    const step = 40;
    const actions = {
      "+": controls.zoomIn, "=": controls.zoomIn, "-": controls.zoomOut, "0": controls.reset,
      ArrowLeft: () => { x += step; apply(); }, ArrowRight: () => { x -= step; apply(); },
      ArrowUp: () => { y += step; apply(); }, ArrowDown: () => { y -= step; apply(); },
    };
    if (actions[event.key]) {
      event.preventDefault();
      actions[event.key]();
    }
  });
  apply();
  return controls;
}
