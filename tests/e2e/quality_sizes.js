([minText, minTarget]) => {
  const small = [], tiny = [];
  const visible = (el) => {
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none' || el.closest('[hidden], .visually-hidden, details:not([open]) > :not(summary)')) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const done = new Set();
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!el || done.has(el) || !node.textContent.trim()) continue;
    done.add(el);
    if (['SCRIPT', 'STYLE', 'NOSCRIPT', 'TITLE', 'OPTION'].includes(el.tagName) || !visible(el)) continue;
    let size = parseFloat(getComputedStyle(el).fontSize);
    if (el instanceof SVGElement && el.ownerSVGElement) {
      const m = el.getScreenCTM();
      if (m) size = size * Math.sqrt(Math.abs(m.a * m.d - m.b * m.c));
    }
    if (size < minText - 0.01) small.push(`${size.toFixed(1)}px "${node.textContent.trim().slice(0, 30)}" <${el.tagName.toLowerCase()} class="${el.getAttribute('class') || ''}">`);
  }
  const controls = document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])');
  for (const el of controls) {
    if (!visible(el)) continue;
    let r = el.getBoundingClientRect();
    // A checkbox or radio counts with its label (the label is the target).
    if (el.matches('input[type=checkbox], input[type=radio]') && el.labels && el.labels.length) {
      const l = el.labels[0].getBoundingClientRect();
      r = {width: Math.max(r.right, l.right) - Math.min(r.left, l.left), height: Math.max(r.bottom, l.bottom) - Math.min(r.top, l.top)};
    }
    if (r.width < minTarget - 0.5 || r.height < minTarget - 0.5) {
      tiny.push(`${Math.round(r.width)}x${Math.round(r.height)} <${el.tagName.toLowerCase()} class="${el.getAttribute('class') || ''}"> "${(el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 30)}"`);
    }
  }
  return {small, tiny, overflow: document.documentElement.scrollWidth - window.innerWidth};
}
