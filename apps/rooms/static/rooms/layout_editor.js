/* The room layout editor of the admin: a grid of rows × seats per row, screen on top. Each
 * place is a button; a click applies the chosen tool (a seat category, or aisle for no seat),
 * and a row's or a column's head applies it to the whole row or column. The whole grid is kept
 * in one hidden field as JSON (one string per row, one character per place), so a room of any
 * size is saved in one small request; the server reads and checks it (apps/rooms/forms.py). */
(function () {
  "use strict";

  var ROWS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

  function format(text, values) {
    return text.replace(/%\((\w+)\)[sd]/g, function (_, key) { return values[key]; });
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function Editor(root) {
    this.root = root;
    this.input = document.getElementById(root.dataset.input);
    this.config = JSON.parse(document.getElementById(root.dataset.config).textContent);
    this.rowsInput = document.getElementById("id_rows");
    this.widthInput = document.getElementById("id_seats_per_row");
    this.names = Object.assign({}, this.config.cells);
    this.names[this.config.aisle] = this.config.text.aisle;
    this.tool = "s";
    this.cells = this.read();
    this.build();
  }

  Editor.prototype.size = function (input, max) {
    var value = parseInt(input && input.value, 10);
    return isNaN(value) ? 0 : Math.max(0, Math.min(max, value));
  };

  Editor.prototype.read = function () {
    try {
      var cells = JSON.parse(this.input.value || "[]");
      return Array.isArray(cells) ? cells.map(function (line) { return String(line).split(""); }) : [];
    } catch (error) {
      return [];
    }
  };

  /* The grid resized to the rows and seats per row fields, keeping the places it had. */
  Editor.prototype.resize = function () {
    var rows = this.size(this.rowsInput, ROWS.length), width = this.size(this.widthInput, 60);
    var cells = [];
    for (var r = 0; r < rows; r++) {
      var line = [];
      for (var c = 0; c < width; c++) line.push((this.cells[r] && this.cells[r][c]) || "s");
      cells.push(line);
    }
    this.cells = cells;
  };

  Editor.prototype.save = function () {
    this.input.value = JSON.stringify(this.cells.map(function (line) { return line.join(""); }));
    var seats = 0, sellable = 0, aisle = this.config.aisle;
    this.cells.forEach(function (line) {
      line.forEach(function (cell) {
        if (cell !== aisle) seats++;
        if (cell !== aisle && cell !== "b") sellable++;
      });
    });
    var text = this.config.text;
    this.summary.textContent = format(text.summary, { seats: seats, sellable: sellable });
    this.warning.textContent = sellable < this.config.minimum ? format(text.too_few, { min: this.config.minimum }) : "";
  };

  Editor.prototype.paint = function (button) {
    var r = +button.dataset.row, c = +button.dataset.column;
    this.cells[r][c] = this.tool;
    button.dataset.cell = this.tool;
    var label = ROWS[r] + (c + 1);
    button.setAttribute("aria-label", label + ": " + this.names[this.tool]);
    button.title = button.getAttribute("aria-label");
    button.textContent = { s: String(c + 1), w: "♿", c: "+", b: "✕" }[this.tool] || "";
  };

  Editor.prototype.toolbar = function () {
    var editor = this, bar = element("div", { "class": "le-tools", role: "toolbar", "aria-label": this.config.text.tools });
    var buttons = [];
    Object.keys(this.names).forEach(function (cell) {
      var button = element("button", { type: "button", "class": "button", "data-tool": cell, "aria-pressed": String(cell === editor.tool) }, editor.names[cell]);
      button.addEventListener("click", function () {
        editor.tool = cell;
        buttons.forEach(function (other) { other.setAttribute("aria-pressed", String(other === button)); });
      });
      buttons.push(button);
      bar.appendChild(button);
    });
    return bar;
  };

  Editor.prototype.build = function () {
    var editor = this;
    this.resize();
    this.root.querySelectorAll(".le-built").forEach(function (node) { node.remove(); });
    var box = element("div", { "class": "le-built" });
    box.appendChild(this.toolbar());
    var scroll = element("div", { "class": "le-scroll" });
    scroll.appendChild(element("div", { "class": "le-screen" }, this.config.text.screen));
    var table = element("table", { "class": "le-grid" });
    var head = element("tr");
    head.appendChild(element("th"));
    var width = this.cells.length ? this.cells[0].length : 0;
    for (var c = 0; c < width; c++) {
      var column = element("button", { type: "button", "class": "le-head", "data-column": c, "aria-label": format(this.config.text.column, { number: c + 1 }) }, String(c + 1));
      column.addEventListener("click", function (event) {
        var index = +event.currentTarget.dataset.column;
        table.querySelectorAll(".le-cell[data-column='" + index + "']").forEach(function (b) { editor.paint(b); });
        editor.save();
      });
      head.appendChild(element("th").appendChild(column).parentNode);
    }
    table.appendChild(head);
    this.cells.forEach(function (line, r) {
      var tr = element("tr");
      var rowHead = element("button", { type: "button", "class": "le-head", "data-row": r, "aria-label": format(editor.config.text.row, { row: ROWS[r] }) }, ROWS[r]);
      rowHead.addEventListener("click", function () {
        tr.querySelectorAll(".le-cell").forEach(function (b) { editor.paint(b); });
        editor.save();
      });
      tr.appendChild(element("th").appendChild(rowHead).parentNode);
      line.forEach(function (cell, c) {
        var button = element("button", { type: "button", "class": "le-cell", "data-row": r, "data-column": c });
        var tool = editor.tool;
        editor.tool = cell;
        editor.paint(button);
        editor.tool = tool;
        button.addEventListener("click", function () { editor.paint(button); editor.save(); });
        tr.appendChild(element("td").appendChild(button).parentNode);
      });
      table.appendChild(tr);
    });
    scroll.appendChild(table);
    box.appendChild(scroll);
    this.summary = element("p", { "class": "le-summary", "aria-live": "polite" });
    this.warning = element("p", { "class": "le-warning", "aria-live": "polite" });
    box.appendChild(this.summary);
    box.appendChild(this.warning);
    this.root.appendChild(box);
    this.save();
  };

  function start() {
    document.querySelectorAll(".layout-editor").forEach(function (root) {
      var editor = new Editor(root);
      [editor.rowsInput, editor.widthInput].forEach(function (input) {
        if (input) input.addEventListener("change", function () { editor.build(); });
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
