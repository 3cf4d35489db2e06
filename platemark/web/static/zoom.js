// Deep zoom on a catalogue image: drag to pan, wheel, pinch, buttons or keys (+ - 0, arrows) to zoom.
// The stored image is shown at once; where the record has a IIIF Image API service (level 1 or 2),
// the visible part is fetched again from it at screen resolution whenever the view settles.

const MAX_REQUEST_SIDE = 2048;

export function zoomable(container, base, { width, height, iiif }) {
  const stage = document.createElement("div");
  stage.className = "zoom-stage";
  stage.append(base);
  container.replaceChildren(stage);
  container.style.aspectRatio = `${width} / ${height}`;
  const service = iiif && iiif.image_service && iiif.image_api_level >= 1 && iiif.image_width ? iiif : null;
  const fullWidth = service ? service.image_width : width;
  let scale = 1, x = 0, y = 0, timer = null, sharp = null;
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

  // The visible part of the image, from the IIIF service at the pixels the screen shows.
  function sharpen() {
    const [w, h] = size();
    const shown = w * scale * (window.devicePixelRatio || 1);
    if (!service || shown <= width) return sharp && sharp.remove();
    const k = service.image_width / w; // full-image pixels per unscaled container pixel
    const region = [-x / scale, -y / scale, w / scale, h / scale].map((v) => Math.round(v * k));
    region[2] = Math.min(region[2], service.image_width - region[0]);
    region[3] = Math.min(region[3], service.image_height - region[1]);
    const pixels = Math.min(region[2], MAX_REQUEST_SIDE, Math.round(w * (window.devicePixelRatio || 1)));
    const tall = Math.max(1, Math.round((pixels * region[3]) / region[2]));
    const sizeParam = service.image_api_version >= 3 ? `${pixels},${tall}` : `${pixels},`;
    const img = document.createElement("img");
    img.className = "zoom-sharp";
    img.alt = "";
    img.src = `${service.image_service}/${region.join(",")}/${sizeParam}/0/default.jpg`;
    Object.assign(img.style, {
      left: `${(100 * region[0]) / service.image_width}%`, top: `${(100 * region[1]) / service.image_height}%`,
      width: `${(100 * region[2]) / service.image_width}%`, height: `${(100 * region[3]) / service.image_height}%`,
    });
    img.addEventListener("load", () => {
      if (sharp) sharp.remove();
      sharp = img;
    }, { once: true });
    base.insertBefore(img, base.querySelector("svg"));
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
